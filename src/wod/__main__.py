from wod.cli.main import main

main()
