"""The command line: parse flags, call the engine, render results. No business logic here."""
