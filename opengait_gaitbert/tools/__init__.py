"""User tools on a trained GaitBERT: pictures, embeddings, identification, export. OpenGait-free."""
