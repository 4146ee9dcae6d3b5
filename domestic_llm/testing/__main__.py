from .emulator import main

main()
