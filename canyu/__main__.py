from canyu.cli import main

main()
