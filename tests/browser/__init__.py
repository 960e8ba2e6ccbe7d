"""Browser tests: pages the gateway serves, driven in headless Chromium through Selenium."""
