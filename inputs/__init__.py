"""The bottom layer: the bad-input error, generic file readers, the clock, CLI error exit.

Imports none of the project's other packages; every other package may import it.
"""
