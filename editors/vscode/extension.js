// Starts `sym lsp` for .sym files (the command is the `sym.server.command` setting).
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace.getConfiguration("sym").get("server.command");
  client = new LanguageClient("sym", "sym", { command, args },
    { documentSelector: [{ scheme: "file", language: "sym" }] });
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
