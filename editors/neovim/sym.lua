-- sym in Neovim (0.8+): put this in init.lua (or ~/.config/nvim/after/ftplugin/sym.lua
-- without the autocommand). `sym` must be on PATH (or give the venv's path).
vim.filetype.add({ extension = { sym = "sym" } })

vim.api.nvim_create_autocmd("FileType", {
  pattern = "sym",
  callback = function(args)
    vim.bo[args.buf].commentstring = "# %s"
    local marker = vim.fs.find({ "pyproject.toml", ".git" }, { upward = true })[1]
    vim.lsp.start({
      name = "sym",
      cmd = { "sym", "lsp" },
      root_dir = marker and vim.fs.dirname(marker) or vim.fn.getcwd(),
    })
  end,
})
