from deltaw.cli import main

main()
