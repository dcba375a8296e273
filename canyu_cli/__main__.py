from canyu_cli.cli import main

main()
