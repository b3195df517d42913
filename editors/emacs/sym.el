;;; sym.el --- sym files in Emacs: a major mode and `sym lsp` through eglot (Emacs 29+)

(define-derived-mode sym-mode python-mode "sym"
  "Major mode for the sym language (indentation and comments as Python's)."
  (setq-local comment-start "# "))

(add-to-list 'auto-mode-alist '("\\.sym\\'" . sym-mode))

(with-eval-after-load 'eglot
  (add-to-list 'eglot-server-programs '(sym-mode . ("sym" "lsp"))))

(add-hook 'sym-mode-hook #'eglot-ensure)

;; With lsp-mode instead of eglot:
;; (with-eval-after-load 'lsp-mode
;;   (add-to-list 'lsp-language-id-configuration '(sym-mode . "sym"))
;;   (lsp-register-client
;;    (make-lsp-client :new-connection (lsp-stdio-connection '("sym" "lsp"))
;;                     :activation-fn (lsp-activate-on "sym")
;;                     :server-id 'sym-lsp)))

(provide 'sym)
;;; sym.el ends here
