"""The Seaside Inn's custom actions (a Rasa SDK action server)."""
