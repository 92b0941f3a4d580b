from linerate.cli import main

raise SystemExit(main())
