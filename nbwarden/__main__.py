from nbwarden.cli import main

raise SystemExit(main())
