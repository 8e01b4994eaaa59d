// Tokenise .mech files with VS Code's own engine (vscode-textmate + Oniguruma) and print the
// tokens as JSON: {file: [[[start, end, scope], ...] per line]}. tests/lsp/test_textmate_grammar.py
// emulates this engine in Python; compare the two (after `npm install` here):
//   node test/tokenise.js ../.. ../../specs/*.mech > /tmp/tokens.json
//   python ../../tests/lsp/test_textmate_grammar.py /tmp/tokens.json
// On the bundled specs (839 lines) the two gave the same tokens when the grammar was written.
"use strict";
const fs = require("fs"), path = require("path");
const vsctm = require("vscode-textmate"), oniguruma = require("vscode-oniguruma");

const root = process.argv[2];
const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm")).buffer;
const onigLib = oniguruma.loadWASM(wasm).then(() => ({
  createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
  createOnigString: (text) => new oniguruma.OnigString(text),
}));
const grammarPath = path.join(root, "editors/vscode/syntaxes/mech.tmLanguage.json");
const registry = new vsctm.Registry({
  onigLib,
  loadGrammar: async () => vsctm.parseRawGrammar(fs.readFileSync(grammarPath, "utf8"), grammarPath),
});

(async () => {
  const grammar = await registry.loadGrammar("source.mech");
  const out = {};
  for (const file of process.argv.slice(3)) {
    let state = vsctm.INITIAL;
    out[path.resolve(file)] = fs.readFileSync(file, "utf8").split("\n").map((line) => {
      const result = grammar.tokenizeLine(line, state);
      state = result.ruleStack;
      return result.tokens.map((t) => [t.startIndex, Math.min(t.endIndex, line.length), t.scopes[t.scopes.length - 1]]);
    });
  }
  console.log(JSON.stringify(out));
})();
