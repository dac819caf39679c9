"""The reproduction report: verdicts per claim computed from stage results, and the HTML page."""
