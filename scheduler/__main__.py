"""`python -m scheduler` = the `wattbit` command."""

from scheduler.cli import main

main()
