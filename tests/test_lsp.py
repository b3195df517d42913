"""`sym lsp` driven as an editor drives it: the real server in a
subprocess, JSON-RPC over its stdin and stdout."""
import json
import queue
import subprocess
import sys
import threading
import time

import pytest

from conftest import ROOT

URI = "file:///work/model.sym"
PROGRAM = """option lr = 0.1
shared W: f32[784, 10] = zeros()
shared b: f32[10] = zeros()

def predict(x: f32[n, 784]) -> f32[n, 10]:
    h = x @ W + b
    return softmax(h)

def train(x: f32[n, 784], y: i32[n]) -> f32:
    cost = -mean(log(predict(x))[arange(n), y])
    W <- W - lr * grad(cost, W)
    b <- b - lr * grad(cost, b)
    return cost
"""
BROKEN = PROGRAM.replace("softmax(h)", "softmax(hh)").replace("option lr = 0.1", "option lr = 0.1\nshared sum: f32 = zeros()")


class Client:
    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-m", "dsl.cli", "lsp"], cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.messages, self.next_id = queue.Queue(), 0
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        out = self.proc.stdout
        while True:
            headers = {}
            while True:
                line = out.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                key, _, value = line.decode().partition(":")
                headers[key.strip().lower()] = value.strip()
            self.messages.put(json.loads(out.read(int(headers["content-length"]))))

    def send(self, message):
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def request(self, method, params):
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        return self.wait(lambda m: m.get("id") == self.next_id)["result"]

    def notify(self, method, params):
        self.send({"method": method, "params": params})

    def wait(self, wanted, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            m = self.messages.get(timeout=max(deadline - time.monotonic(), 0.01))
            if wanted(m):
                return m

    def diagnostics(self):
        return self.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics")["params"]


@pytest.fixture(scope="module")
def client():
    c = Client()
    result = c.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
    caps = result["capabilities"]
    assert caps["hoverProvider"] and caps["definitionProvider"] and caps["documentSymbolProvider"]
    assert "completionProvider" in caps
    c.notify("initialized", {})
    c.notify("textDocument/didOpen", {"textDocument": {"uri": URI, "languageId": "sym",
                                                       "version": 1, "text": PROGRAM}})
    c.opened = c.diagnostics()
    yield c
    assert c.request("shutdown", None) is None
    c.notify("exit", None)
    assert c.proc.wait(timeout=30) == 0


def at(text, needle, offset=0):
    """The LSP position of `needle`'s first character (+ offset) in text."""
    for i, line in enumerate(text.split("\n")):
        if needle in line:
            return {"line": i, "character": line.index(needle) + offset}
    raise AssertionError(needle)


def doc(position):
    return {"textDocument": {"uri": URI}, "position": position}


def test_a_clean_file_has_no_diagnostics(client):
    assert client.opened == {"uri": URI, "diagnostics": []}


def test_hover_shows_types_with_shapes(client):
    hover = lambda needle, offset=0: client.request("textDocument/hover", doc(at(PROGRAM, needle, offset)))["contents"]["value"]
    assert "h: f32[n, 10]" in hover("softmax(h)", 8)
    assert "x: f32[n, 784]" in hover("x @ W")
    assert "f32[n, 10]" in hover("@ W + b", 0) or "f32[n, 10]" in hover("x @ W", 2)
    assert "shared W: f32[784, 10]" in hover("W + b", 0)
    assert "def train(x: f32[n, 784], y: i32[n]) -> f32\nupdates: W, b" in hover("def train", 4)
    assert "softmax along `axis`" in hover("softmax(h)")
    assert "option lr = 0.1" in hover("lr *")
    assert "cost: f32" in hover("cost =")


def test_definition_of_defs_shared_options_and_locals(client):
    def target(needle, offset=0):
        loc = client.request("textDocument/definition", doc(at(PROGRAM, needle, offset)))
        assert loc["uri"] == URI
        return loc["range"]["start"]
    assert target("predict(x))") == at(PROGRAM, "predict(x: f32")
    assert target("W + b") == at(PROGRAM, "W: f32[784")
    assert target("lr *") == at(PROGRAM, "lr = 0.1")
    assert target("softmax(h)", 8) == at(PROGRAM, "h = x")
    assert target("grad(cost, W)", 5) == at(PROGRAM, "cost = -mean")


def test_completion_lists_names_in_scope_and_builtins(client):
    items = client.request("textDocument/completion", doc(at(PROGRAM, "return softmax")))["items"]
    by_label = {i["label"]: i for i in items}
    assert {"x", "h", "W", "b", "lr", "predict", "train", "softmax", "mean"} <= set(by_label)
    assert by_label["softmax"]["detail"] == "softmax(x, axis=-1)"
    assert by_label["x"]["detail"] == "f32[n, 784]"
    assert by_label["train"]["detail"].startswith("def train(")
    assert "cost" not in by_label       # a local of another def


def test_document_symbols(client):
    symbols = client.request("textDocument/documentSymbol", {"textDocument": {"uri": URI}})
    assert [(s["name"], s["kind"]) for s in symbols] == [
        ("lr", 14), ("W", 13), ("b", 13), ("predict", 12), ("train", 12)]


def test_diagnostics_follow_changes_with_codes_help_and_warnings(client):
    client.notify("textDocument/didChange", {"textDocument": {"uri": URI, "version": 2},
                                             "contentChanges": [{"text": BROKEN}]})
    diags = client.diagnostics()["diagnostics"]
    by_code = {d["code"]: d for d in diags}
    error = by_code["E0101"]
    assert error["severity"] == 1 and error["source"] == "sym"
    assert error["message"].startswith("unknown name `hh`") and "\nhelp: did you mean `h`?" in error["message"]
    assert error["range"] == {"start": at(BROKEN, "hh)"), "end": at(BROKEN, "hh)", 2)}
    warning = next(d for d in diags if d["code"].startswith("W"))
    assert warning["severity"] == 2
    client.notify("textDocument/didChange", {"textDocument": {"uri": URI, "version": 3},
                                             "contentChanges": [{"text": PROGRAM}]})
    assert client.diagnostics()["diagnostics"] == []


def test_changes_in_quick_succession_are_checked_once(client):
    for version, text in enumerate([BROKEN, PROGRAM + "x = \n", PROGRAM + "print(1)\n"], start=10):
        client.notify("textDocument/didChange", {"textDocument": {"uri": URI, "version": version},
                                                 "contentChanges": [{"text": text}]})
    assert client.diagnostics()["diagnostics"] == []        # only the last text was published
    with pytest.raises(queue.Empty):
        client.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics", timeout=1)


def test_hover_while_a_line_is_half_typed_uses_the_last_parsed_text(client):
    half = PROGRAM + "z = (\n"
    client.notify("textDocument/didChange", {"textDocument": {"uri": URI, "version": 20},
                                             "contentChanges": [{"text": half}]})
    assert client.diagnostics()["diagnostics"][0]["code"].startswith("E00")
    hover = client.request("textDocument/hover", doc(at(half, "x @ W")))
    assert "x: f32[n, 784]" in hover["contents"]["value"]
    client.notify("textDocument/didChange", {"textDocument": {"uri": URI, "version": 21},
                                             "contentChanges": [{"text": PROGRAM}]})
    client.diagnostics()


def test_positions_count_utf16_units_as_lsp_does():
    from lsprotocol.types import Position
    from dsl.lsp import from_lsp, to_lsp
    lines = ['print("𝔵é", x)']          # 𝔵 is two UTF-16 units, é one
    col = lines[0].index("x)") + 1      # 1-based, in characters
    assert to_lsp(lines, 1, col) == Position(line=0, character=col - 1 + 1)
    assert from_lsp(lines, Position(line=0, character=col)) == (1, col)
