"""``python -m ffnn``: the same program as the ``ffnn`` command."""

from .cli import main

raise SystemExit(main())
