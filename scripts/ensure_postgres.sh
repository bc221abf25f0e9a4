#!/usr/bin/env bash
# The PostgreSQL scale-out tests start a real server from Debian's postgresql package.
# Install it when it is missing and we may (root, as in CI); otherwise those tests skip and
# say why.
set -u
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's postgresql for the scale-out tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
else
  echo "PostgreSQL is not installed and cannot be installed here: its tests will skip"
fi
exit 0
