"""A faithful local stand-in for Google Drive v3 and Google's OAuth 2.0 endpoints.

The unmodified google-api-python-client, google-auth and google-auth-oauthlib talk to it over
HTTP. It serves the demo, the tests and the benchmarks (DESIGN §8).
"""
