"""``python -m nas`` is the ``nas`` command."""

from nas.search.cli import main

raise SystemExit(main())
