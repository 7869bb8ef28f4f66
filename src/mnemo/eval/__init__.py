"""Evaluation on the user's own documents: build a test set from a collection, score
retrieval and answers on it, and tune the search settings to it (`mnemo eval`)."""
