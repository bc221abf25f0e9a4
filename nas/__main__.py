"""``python -m nas`` is the ``nas`` command."""

from nas.app.cli import main

raise SystemExit(main())
