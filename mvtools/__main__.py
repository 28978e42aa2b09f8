from mvtools.entry import main

raise SystemExit(main())
