"""Testing support for martech users and connector authors: fixtures and the conformance kit."""
