"""The benchmark's two signup pages: ours and django-simple-captcha's."""
