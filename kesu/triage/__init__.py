"""Chinese NLP for complaints: normalisation, tokens, keywords, classifier, emotion and risk.

The modules here are pure (no database): the taxonomy and complaint services feed them
texts and admin-edited lexicons, and store what they return.
"""
