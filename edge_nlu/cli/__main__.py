from edge_nlu.cli.main import main

raise SystemExit(main())
