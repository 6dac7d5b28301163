"""GanCaptcha: a Django CAPTCHA field whose digits a GAN drew and a CNN labelled."""

__version__ = "0.1.0"
