"""The knowledge base: solutions, reply scripts, policies, regulations, product knowledge."""
