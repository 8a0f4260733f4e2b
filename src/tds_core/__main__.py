from tds_core.cli.main import main

main()
