"""The built-in ops, by family. Each op is a ``Function`` subclass with its forward
and VJP side by side, plus a plain function of the same name (``exp`` for ``Exp``)."""
