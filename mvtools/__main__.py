from mvtools.cli import main

raise SystemExit(main())
