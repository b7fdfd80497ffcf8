"""The broker's web service: the Application, its settings, handlers, auth scopes and metrics."""
