"""Tests of gancaptcha_lab, one module per lab module or command."""
