from mnemo.cli.app import run

run()
