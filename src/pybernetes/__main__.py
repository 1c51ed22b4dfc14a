from pybernetes.cli import main

main()
