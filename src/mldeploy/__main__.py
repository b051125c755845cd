from mldeploy.cli import main

main()
