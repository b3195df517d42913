# Package data: sym.lark, the grammar of the .sym language.
