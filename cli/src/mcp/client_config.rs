//! `brum mcp config CLIENT`: the exact snippet each MCP client needs, in its HTTP form (for a
//! running `brum serve`) and its stdio form (the client starts `brum mcp stdio` itself).

use std::fmt::Write;
use std::path::Path;

/// The clients brum writes configuration for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Client {
    ClaudeCode,
    ClaudeDesktop,
    Cursor,
    Vscode,
    Windsurf,
    Codex,
}

impl Client {
    pub const ALL: [Client; 6] =
        [Client::ClaudeCode, Client::ClaudeDesktop, Client::Cursor, Client::Vscode, Client::Windsurf, Client::Codex];

    pub fn name(self) -> &'static str {
        match self {
            Client::ClaudeCode => "claude-code",
            Client::ClaudeDesktop => "claude-desktop",
            Client::Cursor => "cursor",
            Client::Vscode => "vscode",
            Client::Windsurf => "windsurf",
            Client::Codex => "codex",
        }
    }
}

/// A JSON string literal.
fn js(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// `s` as one shell word: as it is when it is plain, else single-quoted.
fn sh(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-+:@%,=".contains(&b)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The snippet for `client`: `url` is the HTTP endpoint (`brum serve` prints it), `project`
/// the directory the stdio form serves.
pub fn render(client: Client, url: &str, project: &Path) -> String {
    let project = project.display().to_string();
    let p = js(&project);
    let u = js(url);
    let mut out = String::new();
    let w = &mut out;
    // `write!` into a String cannot fail.
    let _ = match client {
        Client::ClaudeCode => write!(
            w,
            "# Claude Code: run one of these in the project.\n\
             \n\
             # HTTP (start `brum serve` first):\n\
             claude mcp add --transport http brum {url}\n\
             \n\
             # stdio (Claude Code starts brum itself):\n\
             claude mcp add brum -- brum mcp stdio -C {}\n",
            sh(&project)
        ),
        Client::ClaudeDesktop => write!(
            w,
            "// Claude Desktop: add to claude_desktop_config.json\n\
             // (macOS: ~/Library/Application Support/Claude/, Linux: ~/.config/Claude/).\n\
             \n\
             // stdio (Claude Desktop starts brum itself):\n\
             {{\n  \"mcpServers\": {{\n    \"brum\": {{\n      \"command\": \"brum\",\n      \"args\": [\"mcp\", \"stdio\", \"-C\", {p}]\n    }}\n  }}\n}}\n\
             \n\
             // HTTP (start `brum serve` first; Claude Desktop reaches HTTP servers through mcp-remote):\n\
             {{\n  \"mcpServers\": {{\n    \"brum\": {{\n      \"command\": \"npx\",\n      \"args\": [\"-y\", \"mcp-remote\", {u}]\n    }}\n  }}\n}}\n"
        ),
        Client::Cursor => write!(
            w,
            "// Cursor: add to .cursor/mcp.json in the project (or ~/.cursor/mcp.json).\n\
             \n\
             // HTTP (start `brum serve` first):\n\
             {{\n  \"mcpServers\": {{\n    \"brum\": {{\n      \"url\": {u}\n    }}\n  }}\n}}\n\
             \n\
             // stdio (Cursor starts brum itself):\n\
             {{\n  \"mcpServers\": {{\n    \"brum\": {{\n      \"command\": \"brum\",\n      \"args\": [\"mcp\", \"stdio\", \"-C\", {p}]\n    }}\n  }}\n}}\n"
        ),
        Client::Vscode => write!(
            w,
            "// VS Code: add to .vscode/mcp.json in the project.\n\
             \n\
             // HTTP (start `brum serve` first):\n\
             {{\n  \"servers\": {{\n    \"brum\": {{\n      \"type\": \"http\",\n      \"url\": {u}\n    }}\n  }}\n}}\n\
             \n\
             // stdio (VS Code starts brum itself):\n\
             {{\n  \"servers\": {{\n    \"brum\": {{\n      \"type\": \"stdio\",\n      \"command\": \"brum\",\n      \"args\": [\"mcp\", \"stdio\", \"-C\", {p}]\n    }}\n  }}\n}}\n"
        ),
        Client::Windsurf => write!(
            w,
            "// Windsurf: add to ~/.codeium/windsurf/mcp_config.json.\n\
             \n\
             // HTTP (start `brum serve` first):\n\
             {{\n  \"mcpServers\": {{\n    \"brum\": {{\n      \"serverUrl\": {u}\n    }}\n  }}\n}}\n\
             \n\
             // stdio (Windsurf starts brum itself):\n\
             {{\n  \"mcpServers\": {{\n    \"brum\": {{\n      \"command\": \"brum\",\n      \"args\": [\"mcp\", \"stdio\", \"-C\", {p}]\n    }}\n  }}\n}}\n"
        ),
        Client::Codex => write!(
            w,
            "# Codex: add to ~/.codex/config.toml.\n\
             \n\
             # HTTP (start `brum serve` first):\n\
             [mcp_servers.brum]\n\
             url = {u}\n\
             \n\
             # stdio (Codex starts brum itself):\n\
             [mcp_servers.brum]\n\
             command = \"brum\"\n\
             args = [\"mcp\", \"stdio\", \"-C\", {p}]\n"
        ),
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_clients_snippet() {
        let mut all = String::new();
        for c in Client::ALL {
            let _ = writeln!(all, "===== {} =====", c.name());
            all.push_str(&render(c, "http://127.0.0.1:7777/mcp", Path::new("/home/me/app")));
        }
        insta::assert_snapshot!(all);
    }

    #[test]
    fn a_project_path_with_spaces_is_one_shell_word() {
        let text = render(Client::ClaudeCode, "http://127.0.0.1:7777/mcp", Path::new("/my app/it's"));
        assert!(text.contains("-C '/my app/it'\\''s'\n"), "{text}");
    }

    #[test]
    fn the_json_snippets_parse() {
        for c in [Client::ClaudeDesktop, Client::Cursor, Client::Vscode, Client::Windsurf] {
            let text = render(c, "http://127.0.0.1:7777/mcp", Path::new("/a \"quoted\" dir"));
            for block in text.split("\n\n").filter(|b| b.starts_with('{')) {
                serde_json::from_str::<serde_json::Value>(block)
                    .unwrap_or_else(|e| panic!("{}: {e}\n{block}", c.name()));
            }
        }
    }
}
