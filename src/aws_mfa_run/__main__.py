from aws_mfa_run.cli import main

raise SystemExit(main())
