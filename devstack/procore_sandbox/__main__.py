"""``python -m devstack.procore_sandbox``: run the sandbox in the foreground."""

from devstack.procore_sandbox.server import main

raise SystemExit(main())
