"""The application: the command line (parsing, commands, rendering), the HTML report, and the
orchestration of synthesis, export and calibration. Nothing imports it."""
