"""``python -m wod.hub.lab``: install the seats' JupyterLab extension into this environment."""

from wod.hub.lab import main

raise SystemExit(main())
