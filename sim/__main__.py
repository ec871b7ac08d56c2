"""``python -m sim``: the same as ``raftsim``."""

from sim.cli import main

raise SystemExit(main())
