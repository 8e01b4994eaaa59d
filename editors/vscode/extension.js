// VS Code client of the mechdsl language server: starts `<mechdsl.pythonPath> -m mechdsl lsp`
// over stdio for .mech files and restarts it when the setting changes.
"use strict";

const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function serverOptions() {
  const python = vscode.workspace.getConfiguration("mechdsl").get("pythonPath") || "python";
  return { command: python, args: ["-m", "mechdsl", "lsp"] };
}

async function start() {
  client = new LanguageClient("mechdsl", "mechdsl", serverOptions(), {
    documentSelector: [{ scheme: "file", language: "mech" }, { scheme: "untitled", language: "mech" }],
  });
  try {
    await client.start();
  } catch (error) {
    vscode.window.showErrorMessage(
      `mechdsl: the language server did not start (${error}). Install it into the Python of the ` +
        "`mechdsl.pythonPath` setting: pip install 'mechdsl[lsp]'"
    );
  }
}

async function activate(context) {
  await start();
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("mechdsl.pythonPath")) {
        if (client) await client.stop();
        await start();
      }
    })
  );
}

async function deactivate() {
  if (client) await client.stop();
}

module.exports = { activate, deactivate };
