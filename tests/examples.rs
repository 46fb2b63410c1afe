//! The documentation's examples cannot drift: every ```` ```console ```` block of README.md and
//! docs/*.md is run and its output compared (one trial per block, named `FILE:LINE`), every
//! fenced block says what it is, and every relative link reaches a file and heading that exist.
//!
//! A console block holds `$ command` lines, each followed by its expected output (stdout and
//! stderr together). In an expected line `[..]` stands for any text; a line `...` for any number
//! of lines; a last line `[exit N]` for the exit status when it is not 0. A command ending in
//! `&` must be `regverify serve … --addr HOST:PORT &`: it is started on a free port for the rest
//! of the block, and `HOST:PORT` in the other commands and in their output means that port.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// Languages a fenced block may have: `console` is checked output, the others are not output.
const KINDS: [&str; 5] = ["console", "sh", "yaml", "text", "json"];
/// A command slower than this is a failure, not a hang of the test suite.
const COMMAND_LIMIT: Duration = Duration::from_secs(300);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every page under docs/, as paths relative to the root.
fn pages() -> Vec<String> {
    let mut pages = vec!["README.md".to_string()];
    let mut docs: Vec<String> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

struct Block {
    line: usize,
    info: String,
    text: String,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].bytes().filter(|b| *b == b'\n').count() + 1
}

fn code_blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut current: Option<Block> = None;
    for (event, range) in Parser::new_ext(text, Options::ENABLE_TABLES).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(kind)) => {
                let info = match kind {
                    CodeBlockKind::Fenced(info) => info.to_string(),
                    CodeBlockKind::Indented => "(indented)".to_string(),
                };
                current = Some(Block {
                    line: line_of(text, range.start),
                    info,
                    text: String::new(),
                });
            }
            Event::Text(t) => {
                if let Some(b) = current.as_mut() {
                    b.text.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => blocks.extend(current.take()),
            _ => {}
        }
    }
    blocks
}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces made hyphens, a
/// repeated anchor numbered.
fn anchors(text: &str) -> HashSet<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = HashSet::new();
    let mut heading: Option<String> = None;
    for event in Parser::new_ext(text, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = heading.as_mut() {
                    h.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                let h = heading.take().unwrap_or_default();
                let slug: String = h
                    .to_lowercase()
                    .chars()
                    .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
                    .map(|c| if c == ' ' { '-' } else { c })
                    .collect();
                let n = seen.entry(slug.clone()).or_insert(0);
                out.insert(if *n == 0 { slug } else { format!("{slug}-{n}") });
                *n += 1;
            }
            _ => {}
        }
    }
    out
}

/// Relative links of a page: (line, destination).
fn links(text: &str) -> Vec<(usize, String)> {
    Parser::new_ext(text, Options::ENABLE_TABLES)
        .into_offset_iter()
        .filter_map(|(event, range)| match event {
            Event::Start(Tag::Link { dest_url, .. }) => {
                Some((line_of(text, range.start), dest_url.to_string()))
            }
            _ => None,
        })
        .filter(|(_, d)| !d.contains("://") && !d.starts_with("mailto:"))
        .collect()
}

fn first_heading_is_h1(text: &str) -> bool {
    Parser::new(text).find_map(|e| match e {
        Event::Start(Tag::Heading { level, .. }) => Some(level == HeadingLevel::H1),
        _ => None,
    }) == Some(true)
}

/// Every fenced block says what it is, and only console blocks hold `$ ` prompts.
fn check_fences() -> Result<(), Failed> {
    let mut problems = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(root().join(&page)).unwrap();
        for b in code_blocks(&text) {
            let kind = b.info.split_whitespace().next().unwrap_or("");
            if !KINDS.contains(&kind) {
                problems.push(format!(
                    "{page}:{}: a block of kind {:?}; say what it is: one of {KINDS:?}",
                    b.line, b.info
                ));
            } else if kind != "console" && b.text.lines().any(|l| l.starts_with("$ ")) {
                problems.push(format!(
                    "{page}:{}: `$ ` prompts outside a console block: make it `console` (checked) or drop the prompts",
                    b.line
                ));
            }
        }
    }
    verdict(problems)
}

/// Each page links back to the README, the README links every page, and every relative link
/// reaches an existing file and, with a `#`, one of its headings.
fn check_links() -> Result<(), Failed> {
    let mut problems = Vec::new();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let readme_links: HashSet<String> = links(&readme).into_iter().map(|(_, d)| d).collect();
    for page in pages() {
        let path = root().join(&page);
        let text = std::fs::read_to_string(&path).unwrap();
        if !first_heading_is_h1(&text) {
            problems.push(format!("{page}: does not start with a `# ` title"));
        }
        if page != "README.md" {
            if !readme_links
                .iter()
                .any(|d| d.split('#').next() == Some(&page))
            {
                problems.push(format!("README.md does not link {page}"));
            }
            if !links(&text)
                .iter()
                .any(|(_, d)| d.split('#').next() == Some("../README.md"))
            {
                problems.push(format!("{page}: no link back to ../README.md"));
            }
        }
        for (line, dest) in links(&text) {
            let (file, anchor) = match dest.split_once('#') {
                Some((f, a)) => (f, Some(a)),
                None => (dest.as_str(), None),
            };
            let target = if file.is_empty() {
                path.clone()
            } else {
                path.parent().unwrap().join(file)
            };
            if !target.exists() {
                problems.push(format!("{page}:{line}: {dest}: no such file"));
                continue;
            }
            if let Some(anchor) = anchor {
                let target_text = std::fs::read_to_string(&target).unwrap_or_default();
                if !anchors(&target_text).contains(anchor) {
                    problems.push(format!("{page}:{line}: {dest}: no such heading"));
                }
            }
        }
    }
    verdict(problems)
}

fn verdict(problems: Vec<String>) -> Result<(), Failed> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n").into())
    }
}

struct Shown {
    line: String,
    expected: Vec<String>,
    status: i32,
}

fn parse_console(text: &str) -> Result<Vec<Shown>, String> {
    let mut commands: Vec<Shown> = Vec::new();
    for line in text.lines() {
        if let Some(cmd) = line.strip_prefix("$ ") {
            commands.push(Shown {
                line: cmd.to_string(),
                expected: Vec::new(),
                status: 0,
            });
        } else {
            let Some(c) = commands.last_mut() else {
                return Err(format!("output before any `$ ` command: {line:?}"));
            };
            c.expected.push(line.to_string());
        }
    }
    for c in &mut commands {
        if let Some(last) = c.expected.last()
            && let Some(n) = last
                .strip_prefix("[exit ")
                .and_then(|s| s.strip_suffix(']'))
        {
            c.status = n.parse().map_err(|_| format!("bad exit line {last:?}"))?;
            c.expected.pop();
        }
    }
    Ok(commands)
}

/// One expected line against one actual line: `[..]` matches any text.
fn line_matches(expected: &str, actual: &str) -> bool {
    let parts: Vec<&str> = expected.split("[..]").collect();
    if parts.len() == 1 {
        return expected == actual;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !actual.starts_with(first) || actual.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &actual[first.len()..];
    if !rest.ends_with(last) {
        return false;
    }
    rest = &rest[..rest.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// Expected lines against actual lines: `...` matches any number of lines.
fn lines_match(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((e, rest)) if e == "..." => {
            (0..=actual.len()).any(|k| lines_match(rest, &actual[k..]))
        }
        Some((e, rest)) => {
            !actual.is_empty() && line_matches(e, actual[0]) && lines_match(rest, &actual[1..])
        }
    }
}

/// The matcher itself: redactions match what they stand for and nothing beyond.
fn check_matcher() -> Result<(), Failed> {
    let e = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cases: [(&[&str], &[&str], bool); 8] = [
        (&["seed [..]"], &["seed 42"], true),
        (&["seed [..]"], &["seeds 42"], false),
        (&["a [..] b [..] c"], &["a x b y c"], true),
        (&["a [..] b [..] c"], &["a x c y b"], false),
        (
            &["first", "...", "last"],
            &["first", "x", "y", "last"],
            true,
        ),
        (&["first", "...", "last"], &["first", "last"], true),
        (&["first", "...", "last"], &["first", "x"], false),
        (&["one"], &["one", "two"], false),
    ];
    for (expected, actual, holds) in cases {
        if lines_match(&e(expected), actual) != holds {
            return Err(format!("{expected:?} against {actual:?} should be {holds}").into());
        }
    }
    Ok(())
}

/// A server a block started; stopped when the block ends, whatever happened.
struct Background(Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where the spec texts are, for the blocks that read them as `$REGVERIFY_SPEC_DIR`: that
/// variable when set, else `shared/reference` beside the checkout or one of its ancestors.
fn spec_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("REGVERIFY_SPEC_DIR") {
        return PathBuf::from(d);
    }
    root()
        .ancestors()
        .skip(1)
        .map(|a| a.join("shared/reference"))
        .find(|d| d.is_dir())
        .unwrap_or_else(|| root().join("../shared/reference"))
}

fn shell(cmd: &str) -> Command {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_regverify"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = Command::new("sh");
    // stderr joins stdout in one pipe, so the two interleave as on a terminal
    c.arg("-c")
        .arg(format!("exec 2>&1\n{cmd}"))
        .current_dir(root())
        .env("PATH", path)
        .env("REGVERIFY_SPEC_DIR", spec_dir())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    // the OCI suite's variables would change what a run does
    for (k, _) in std::env::vars() {
        if k.starts_with("OCI_") {
            c.env_remove(k);
        }
    }
    c
}

fn start_server(cmd: &str, subst: &mut Vec<(String, String)>) -> Result<Background, String> {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    if words.get(..2) != Some(&["regverify", "serve"][..]) {
        return Err(format!(
            "only `regverify serve … &` may run in the background: {cmd}"
        ));
    }
    let addr = words
        .windows(2)
        .find(|w| w[0] == "--addr")
        .map(|w| w[1].to_string())
        .ok_or_else(|| format!("a background serve needs --addr HOST:PORT: {cmd}"))?;
    let real = format!("127.0.0.1:{}", free_port());
    // `exec`, so that the process killed at the end of the block is the server, not a shell
    let mut child = shell(&format!("exec {}", cmd.replace(&addr, &real)))
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(&real).is_err() {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("`{cmd}` ended before listening: {status}"));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err(format!("`{cmd}` is not listening after 30 s"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    subst.push((addr, real));
    Ok(Background(child))
}

/// Runs a command to its end (or the limit) and returns its status and output.
fn run(cmd: &str) -> Result<(i32, String), String> {
    let mut child = shell(cmd)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + COMMAND_LIMIT;
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err(format!("`{cmd}` still running after {COMMAND_LIMIT:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
    Ok((status.code().unwrap_or(-1), out))
}

fn check_console(page: &str, block_text: &str) -> Result<(), Failed> {
    let commands = parse_console(block_text)?;
    let mut subst: Vec<(String, String)> = Vec::new();
    let mut servers = Vec::new();
    for c in commands {
        if let Some(bg) = c.line.trim_end().strip_suffix('&') {
            if !c.expected.is_empty() || c.status != 0 {
                return Err(
                    format!("{page}: a background command shows no output: {}", c.line).into(),
                );
            }
            servers.push(start_server(bg.trim_end(), &mut subst)?);
            continue;
        }
        let mut line = c.line.clone();
        for (shown, real) in &subst {
            line = line.replace(shown, real);
        }
        let (status, mut out) = run(&line)?;
        // the output as the page would show it, ready to paste
        for (shown, real) in &subst {
            out = out.replace(real, shown);
        }
        let actual: Vec<&str> = out.lines().collect();
        if status != c.status || !lines_match(&c.expected, &actual) {
            let mut shown = out.trim_end_matches('\n').to_string();
            if status != 0 {
                shown.push_str(&format!("\n[exit {status}]"));
            }
            return Err(format!(
                "$ {}\n--- expected (exit {}):\n{}\n--- got:\n{}",
                c.line,
                c.status,
                c.expected.join("\n"),
                shown
            )
            .into());
        }
    }
    drop(servers);
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = vec![
        Trial::test("fences", check_fences),
        Trial::test("links", check_links),
        Trial::test("matcher", check_matcher),
    ];
    for page in pages() {
        let text = std::fs::read_to_string(root().join(&page)).unwrap();
        for b in code_blocks(&text) {
            if b.info.split_whitespace().next() == Some("console") {
                let page = page.clone();
                trials.push(Trial::test(format!("{page}:{}", b.line), move || {
                    check_console(&page, &b.text)
                }));
            }
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
