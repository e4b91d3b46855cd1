//! The layer order written in `src/lib.rs` is the law of imports: this test reads that list,
//! walks every file under `src/`, and fails when a file imports a layer above its own, when
//! files import each other in a loop, or when a module belongs to no layer.
//!
//! Plain text scanning, no parser: `use` statements (grouped ones expanded) and inline paths
//! that start with `crate::`, `self::`, `super::` or a child module the file declares with
//! `mod name;` (all but the first resolved against the file's own module: in `a/b.rs`, module
//! `a::b`, `super` is `a`; in `a/mod.rs`, module `a`, it is the crate root, and `name::` is
//! `a::name`), and `crate::name!` macros (owned by the file that defines `macro_rules!
//! name`). Comment lines, `#[cfg(test)]` items and `tests.rs` files are left out: tests may
//! reach anything.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// A module path inside the crate, e.g. `["auth", "guard"]`; the crate root is empty.
type ModulePath = Vec<String>;

struct Layer {
    name: String,
    modules: Vec<ModulePath>,
}

#[test]
fn imports_follow_the_layer_order_of_lib_rs() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let layers = layers_written_in(&fs::read_to_string(src.join("lib.rs")).unwrap());
    assert!(
        layers.len() > 1,
        "no layer list found in the module doc of src/lib.rs"
    );

    let files = source_files(&src);
    let macros = macro_owners(&src, &files);
    let mut problems = Vec::new();

    for listed in layers.iter().flat_map(|layer| &layer.modules) {
        if resolve(&src, listed).as_ref() != Some(listed) {
            problems.push(format!(
                "src/lib.rs lists `{}`, which is no module",
                listed.join("::")
            ));
        }
    }

    let mut imports: BTreeMap<ModulePath, BTreeSet<ModulePath>> = BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file);
        let Some(own_layer) = layer_of(&layers, &module) else {
            problems.push(format!(
                "{} (`{}`) is in no layer of src/lib.rs",
                display(file),
                module.join("::")
            ));
            continue;
        };
        let text = fs::read_to_string(file).unwrap();
        for path in module_paths(&without_tests_and_comments(&text), &module, &macros) {
            let Some(target) = resolve(&src, &path) else {
                continue;
            };
            if target == module || target.is_empty() {
                continue;
            }
            if let Some(target_layer) = layer_of(&layers, &target) {
                if target_layer < own_layer {
                    problems.push(format!(
                        "{} (layer \"{}\") imports `crate::{}`, which is in the higher layer \"{}\"",
                        display(file),
                        layers[own_layer].name,
                        path.join("::"),
                        layers[target_layer].name
                    ));
                }
            }
            imports.entry(module.clone()).or_default().insert(target);
        }
    }

    for cycle in import_loops(&imports) {
        let names: Vec<String> = cycle.iter().map(|m| m.join("::")).collect();
        problems.push(format!(
            "import loop: {} -> {}",
            names.join(" -> "),
            names[0]
        ));
    }

    problems.dedup();
    assert!(
        problems.is_empty(),
        "the imports break the layer order written in src/lib.rs:\n  {}\n",
        problems.join("\n  ")
    );
}

/// The layer list of the module doc: after the line that starts with "Layers", one
/// `//! - name: `a`, `b::c`` item per layer, top to bottom; an indented line continues the
/// item above it, and the first blank line after the items ends the list.
fn layers_written_in(lib_rs: &str) -> Vec<Layer> {
    let mut layers: Vec<Layer> = Vec::new();
    let doc = lib_rs.lines().map_while(|line| line.strip_prefix("//!"));
    for line in doc.skip_while(|line| !line.trim_start().starts_with("Layers")) {
        let item = line.trim_start();
        if let Some((name, modules)) = item.strip_prefix("- ").and_then(|i| i.split_once(':')) {
            layers.push(Layer {
                name: name.trim().to_string(),
                modules: backticked(modules),
            });
        } else if let Some(layer) = layers.last_mut().filter(|_| line.starts_with("   ")) {
            layer.modules.extend(backticked(item));
        } else if !layers.is_empty() && item.is_empty() {
            break;
        }
    }
    layers
}

fn backticked(text: &str) -> Vec<ModulePath> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(|module| module.split("::").map(String::from).collect())
        .collect()
}

/// The index of the layer of a module: the layer listing its longest prefix (`auth::guard`
/// before `auth`), top layer first.
fn layer_of(layers: &[Layer], module: &ModulePath) -> Option<usize> {
    layers
        .iter()
        .enumerate()
        .flat_map(|(index, layer)| layer.modules.iter().map(move |m| (index, m)))
        .filter(|(_, listed)| module.starts_with(listed))
        .max_by_key(|(_, listed)| listed.len())
        .map(|(index, _)| index)
}

/// Every library file under `src/`, without `lib.rs` (it only declares the modules),
/// `main.rs` (the binary is its own crate) and the `tests.rs` files.
fn source_files(src: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![src.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs")
                && path.file_name().is_some_and(|n| n != "tests.rs")
                && path != src.join("main.rs")
                && path != src.join("lib.rs")
            {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn module_of(src: &Path, file: &Path) -> ModulePath {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut module: ModulePath = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
        module.pop();
    }
    module
}

/// The deepest module of `path` that has a file: `crate::a::b::C` names `a::b` when
/// `src/a/b.rs` or `src/a/b/mod.rs` exists, else `a`.
fn resolve(src: &Path, path: &[String]) -> Option<ModulePath> {
    (1..=path.len()).rev().find_map(|len| {
        let folder: PathBuf = path[..len].iter().collect();
        let as_file = src.join(&folder).with_extension("rs");
        let as_folder = src.join(&folder).join("mod.rs");
        (as_file.is_file() || as_folder.is_file()).then(|| path[..len].to_vec())
    })
}

/// Which module defines each `macro_rules!` name (an exported macro is reached as
/// `crate::name!`).
fn macro_owners(src: &Path, files: &[PathBuf]) -> BTreeMap<String, ModulePath> {
    let mut owners = BTreeMap::new();
    for file in files {
        for line in fs::read_to_string(file).unwrap().lines() {
            if let Some(rest) = line.trim_start().strip_prefix("macro_rules!") {
                let name: String = rest.trim_start().chars().take_while(is_ident).collect();
                owners.insert(name, module_of(src, file));
            }
        }
    }
    owners
}

/// The source with comment lines and every `#[cfg(test)]` item (a test module, a test-only
/// hook) removed.
fn without_tests_and_comments(text: &str) -> String {
    let mut kept = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") {
            continue;
        }
        if trimmed.starts_with("#[cfg(test)]") {
            skip_item(&mut lines);
            continue;
        }
        kept.push_str(line);
        kept.push('\n');
    }
    kept
}

/// Skips one item: up to its `;` when it has no body, else to the brace that closes it.
fn skip_item<'a>(lines: &mut impl Iterator<Item = &'a str>) {
    let mut depth = 0i32;
    let mut opened = false;
    for line in lines {
        if line.trim_start().starts_with("//") {
            continue;
        }
        for c in line.chars() {
            match c {
                '{' => {
                    depth += 1;
                    opened = true;
                }
                '}' => depth -= 1,
                _ => {}
            }
        }
        let declaration_only = !opened && line.trim_end().ends_with(';');
        if declaration_only || (opened && depth <= 0) {
            return;
        }
    }
}

/// Every path of a source text that starts with `crate::`, `self::`, `super::` or the name of a
/// child module the text declares (`mod name;`), grouped `use` trees expanded, as a path from
/// the crate root: `self`, `super` and a child are taken from `module`, the module of the file.
/// A `crate::name!` macro becomes the path of the module that defines it.
fn module_paths(
    text: &str,
    module: &ModulePath,
    macros: &BTreeMap<String, ModulePath>,
) -> Vec<ModulePath> {
    let roots: Vec<String> = ["crate", "self", "super"]
        .into_iter()
        .map(String::from)
        .chain(declared_children(text))
        .map(|root| root + "::")
        .collect();
    let mut paths = Vec::new();
    let mut rest = text;
    while let Some(at) = roots.iter().filter_map(|root| rest.find(root)).min() {
        let preceded_by_path = rest[..at]
            .chars()
            .next_back()
            .is_some_and(|c| is_ident(&c) || c == ':');
        rest = &rest[at..];
        let tree_len = use_tree_len(rest);
        let tree = &rest[..tree_len];
        rest = &rest[tree_len..];
        if preceded_by_path {
            continue;
        }
        if rest.starts_with('!') {
            if let Some(owner) = tree.strip_prefix("crate::").and_then(|m| macros.get(m)) {
                paths.push(owner.clone());
            }
            continue;
        }
        paths.extend(
            expand(tree)
                .iter()
                .filter_map(|path| from_root(module, path)),
        );
    }
    paths
}

/// The child modules a source text declares with `mod name;` (each in `name.rs` or
/// `name/mod.rs` beside it). Only these: a plain `name::` path may as well name an extern crate
/// or an item of the file.
fn declared_children(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let line = match line.strip_prefix("pub") {
                Some(rest) if rest.starts_with('(') => rest.split_once(')')?.1,
                Some(rest) => rest,
                None => line,
            };
            let name = line
                .trim_start()
                .strip_prefix("mod ")?
                .strip_suffix(';')?
                .trim();
            (!name.is_empty() && name.chars().all(|c| is_ident(&c))).then(|| name.to_string())
        })
        .collect()
}

/// A path that starts with `crate`, `self`, `super`s or a child module as a path from the
/// crate root, seen from `module`; `None` for a `super` above the root.
fn from_root(module: &ModulePath, path: &[String]) -> Option<ModulePath> {
    let (mut base, mut rest) = match path.first().map(String::as_str) {
        Some("crate") => (Vec::new(), &path[1..]),
        Some("self") => (module.clone(), &path[1..]),
        _ => (module.clone(), path),
    };
    while rest.first().is_some_and(|s| s == "super") {
        base.pop()?;
        rest = &rest[1..];
    }
    base.extend(rest.iter().filter(|s| *s != "*").cloned());
    Some(base)
}

/// The length of the path (or grouped use tree) that starts `text`.
fn use_tree_len(text: &str) -> usize {
    let mut depth = 0;
    for (at, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth > 0 => depth -= 1,
            c if depth > 0 || is_ident(&c) || c == ':' => {}
            _ => return at,
        }
        if depth == 0 && c == '}' {
            return at + 1;
        }
    }
    text.len()
}

/// `a::{b, c::{d, e}}` -> `a::b`, `a::c::d`, `a::c::e` (`self` names its parent).
fn expand(tree: &str) -> Vec<ModulePath> {
    let tree = without_renames(tree);
    let tree = tree.trim_end_matches("::");
    let Some(open) = tree.find('{') else {
        return vec![segments(tree)];
    };
    let prefix = segments(tree[..open].trim_end_matches("::"));
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    split_top_level(inner)
        .into_iter()
        .filter(|part| !part.is_empty())
        .flat_map(|part| {
            expand(part).into_iter().map(|tail| {
                let mut path = prefix.clone();
                path.extend(tail.into_iter().filter(|s| s != "self"));
                path
            })
        })
        .collect()
}

/// The tree without whitespace and without its `as name` renames.
fn without_renames(tree: &str) -> String {
    let words: Vec<&str> = tree.split_whitespace().collect();
    let mut kept = String::new();
    let mut at = 0;
    while at < words.len() {
        if words[at] == "as" {
            at += 2;
            let renamed = words.get(at - 1).copied().unwrap_or("");
            kept.extend(renamed.chars().skip_while(is_ident));
        } else {
            kept.push_str(words[at]);
            at += 1;
        }
    }
    kept
}

fn split_top_level(inner: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (at, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
}

fn segments(path: &str) -> ModulePath {
    path.split("::")
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn is_ident(c: &char) -> bool {
    c.is_alphanumeric() || *c == '_'
}

/// The loops of the import graph: its strongly connected parts of more than one module
/// (Tarjan), each as one cycle through them for the message.
fn import_loops(imports: &BTreeMap<ModulePath, BTreeSet<ModulePath>>) -> Vec<Vec<ModulePath>> {
    struct Search<'a> {
        imports: &'a BTreeMap<ModulePath, BTreeSet<ModulePath>>,
        index: BTreeMap<&'a ModulePath, usize>,
        low: BTreeMap<&'a ModulePath, usize>,
        stack: Vec<&'a ModulePath>,
        loops: Vec<Vec<ModulePath>>,
    }
    impl<'a> Search<'a> {
        fn visit(&mut self, module: &'a ModulePath) {
            let order = self.index.len();
            self.index.insert(module, order);
            self.low.insert(module, order);
            self.stack.push(module);
            for next in self.imports.get(module).into_iter().flatten() {
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[module].min(self.low[next]);
                    self.low.insert(module, low);
                } else if self.stack.contains(&next) {
                    let low = self.low[module].min(self.index[next]);
                    self.low.insert(module, low);
                }
            }
            if self.low[module] == self.index[module] {
                let at = self.stack.iter().rposition(|m| *m == module).unwrap();
                let part: BTreeSet<&ModulePath> = self.stack.split_off(at).into_iter().collect();
                if part.len() > 1 {
                    self.loops.push(cycle_within(self.imports, &part));
                }
            }
        }
    }
    let mut search = Search {
        imports,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        loops: Vec::new(),
    };
    for module in imports.keys() {
        if !search.index.contains_key(module) {
            search.visit(module);
        }
    }
    search.loops
}

/// One cycle inside a strongly connected part, found by walking imports that stay inside it
/// until a module repeats.
fn cycle_within(
    imports: &BTreeMap<ModulePath, BTreeSet<ModulePath>>,
    part: &BTreeSet<&ModulePath>,
) -> Vec<ModulePath> {
    let mut walk: Vec<&ModulePath> = vec![part.iter().next().unwrap()];
    loop {
        let here = walk.last().unwrap();
        let next = imports[*here]
            .iter()
            .find(|m| part.contains(m))
            .expect("a strongly connected part has an import inside it");
        if let Some(at) = walk.iter().position(|m| *m == next) {
            return walk[at..].iter().map(|m| (*m).clone()).collect();
        }
        walk.push(next);
    }
}

fn display(file: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    file.strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string()
}

fn paths(names: &[&str]) -> Vec<ModulePath> {
    names.iter().map(|p| segments(p)).collect()
}

#[test]
fn grouped_use_trees_expand_to_every_path() {
    let text = "use crate::a::{b, c::{d, e as f}, self};\nlet x = crate::g::h(1);";
    assert_eq!(
        module_paths(text, &ModulePath::new(), &BTreeMap::new()),
        paths(&["a::b", "a::c::d", "a::c::e", "a", "g::h"])
    );
}

#[test]
fn a_crate_macro_belongs_to_the_module_that_defines_it() {
    let macros = BTreeMap::from([("code_enum".to_string(), segments("domain::codes"))]);
    assert_eq!(
        module_paths("crate::code_enum! { X }", &ModulePath::new(), &macros),
        paths(&["domain::codes"])
    );
}

#[test]
fn test_modules_and_comment_lines_are_left_out() {
    let text = "// crate::a\nuse crate::b;\n#[cfg(test)]\nmod tests {\n    use crate::c;\n    fn f() {}\n}\n#[cfg(test)]\nmod more;\nuse crate::d;\n";
    assert_eq!(
        module_paths(
            &without_tests_and_comments(text),
            &ModulePath::new(),
            &BTreeMap::new()
        ),
        paths(&["b", "d"])
    );
}

#[test]
fn an_indented_line_continues_the_layer_above() {
    let lib_rs = "//! Intro.\n//!\n//! Layers, top to bottom.\n//!\n//! - top: `a`, `b::c`\n//! - bottom: `d`,\n//!   `e`\n//!\n//! - not a layer: `f`\npub mod a;\n";
    let layers = layers_written_in(lib_rs);
    let listed: Vec<(&str, Vec<ModulePath>)> = layers
        .iter()
        .map(|l| (l.name.as_str(), l.modules.clone()))
        .collect();
    assert_eq!(
        listed,
        vec![
            ("top", paths(&["a", "b::c"])),
            ("bottom", paths(&["d", "e"]))
        ]
    );
}

#[test]
fn a_loop_through_three_files_is_found() {
    let imports = BTreeMap::from([
        (segments("a"), BTreeSet::from([segments("b")])),
        (
            segments("b"),
            BTreeSet::from([segments("c"), segments("d")]),
        ),
        (segments("c"), BTreeSet::from([segments("a")])),
        (segments("d"), BTreeSet::new()),
    ]);
    assert_eq!(import_loops(&imports), vec![paths(&["a", "b", "c"])]);
}

#[test]
fn super_and_self_paths_resolve_from_the_files_module() {
    let text = "use super::{a, b::{c, self}};\nuse self::d;\nlet x = super::super::e::f(1);\nuse crate::g;\n";
    assert_eq!(
        module_paths(text, &segments("x::y::z"), &BTreeMap::new()),
        paths(&[
            "x::y::a",
            "x::y::b::c",
            "x::y::b",
            "x::y::z::d",
            "x::e::f",
            "g"
        ])
    );
    // In a folder's `mod.rs`, whose module is the folder, `super` is the folder's parent.
    let module = module_of(Path::new("src"), Path::new("src/a/mod.rs"));
    assert_eq!(
        module_paths("use super::b;\nuse self::c;", &module, &BTreeMap::new()),
        paths(&["b", "a::c"])
    );
    // Not the start of a path: a `self::` after another segment, or `super` above the root.
    assert_eq!(
        module_paths(
            "x::self::y; use super::super::z;",
            &segments("a"),
            &BTreeMap::new()
        ),
        Vec::<ModulePath>::new()
    );
}

#[test]
fn a_loop_through_super_within_one_folder_is_found() {
    let files = [
        ("src/use_cases/residents/a.rs", "use super::b::B;\n"),
        ("src/use_cases/residents/b.rs", "fn f() { super::a::g() }\n"),
        ("src/use_cases/residents/mod.rs", "use self::a::A;\n"),
    ];
    let modules: Vec<ModulePath> = files
        .iter()
        .map(|(file, _)| module_of(Path::new("src"), Path::new(file)))
        .collect();
    let mut imports: BTreeMap<ModulePath, BTreeSet<ModulePath>> = BTreeMap::new();
    for ((_, text), module) in files.iter().zip(&modules) {
        for path in module_paths(text, module, &BTreeMap::new()) {
            // As `resolve` does on the files: the deepest module the path names.
            let target = modules
                .iter()
                .filter(|m| path.starts_with(m))
                .max_by_key(|m| m.len())
                .unwrap();
            imports
                .entry(module.clone())
                .or_default()
                .insert(target.clone());
        }
    }
    assert_eq!(
        import_loops(&imports),
        vec![paths(&[
            "use_cases::residents::a",
            "use_cases::residents::b"
        ])]
    );
}

#[test]
fn super_star_in_a_files_own_test_module_is_left_out() {
    let text = "use super::b;\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n";
    assert_eq!(
        module_paths(
            &without_tests_and_comments(text),
            &segments("a::c"),
            &BTreeMap::new()
        ),
        paths(&["a::b"])
    );
}

#[test]
fn a_path_through_a_declared_child_module_resolves_to_the_child() {
    let text = "pub mod view;\npub(crate) mod batch;\nmod tests {}\npub use batch::Recorder;\nuse view::{render, Page};\nfn f() { view::show(1) }\n";
    assert_eq!(
        module_paths(text, &segments("a"), &BTreeMap::new()),
        paths(&[
            "a::batch::Recorder",
            "a::view::render",
            "a::view::Page",
            "a::view::show"
        ])
    );
    // Only `mod name;` declarations: an inline module, or a child of another file, is no child.
    assert_eq!(
        declared_children(text),
        BTreeSet::from(["batch".to_string(), "view".to_string()])
    );
}

#[test]
fn an_extern_crate_or_a_local_item_is_no_child_module() {
    let text = "mod view;\nuse serde::Serialize;\nuse chrono::{NaiveDate, Utc};\nenum Event { A }\nfn f() { Event::A; preview::x(); crate::a::view::y() }\n";
    assert_eq!(
        module_paths(text, &segments("a"), &BTreeMap::new()),
        paths(&["a::view::y"])
    );
}

#[test]
fn a_loop_between_a_folder_and_its_child_through_a_re_export_is_found() {
    let files = [
        (
            "src/audit/mod.rs",
            "pub mod batch;\npub use batch::Recorder;\npub struct Event;\n",
        ),
        ("src/audit/batch.rs", "use super::{AuditContext, Event};\n"),
    ];
    let mut imports: BTreeMap<ModulePath, BTreeSet<ModulePath>> = BTreeMap::new();
    for (file, text) in files {
        let module = module_of(Path::new("src"), Path::new(file));
        for path in module_paths(text, &module, &BTreeMap::new()) {
            // As `resolve` does on the files: `audit::batch::Recorder` is `audit::batch`.
            let target = if path.starts_with(&segments("audit::batch")) {
                segments("audit::batch")
            } else {
                segments("audit")
            };
            imports.entry(module.clone()).or_default().insert(target);
        }
    }
    assert_eq!(
        import_loops(&imports),
        vec![paths(&["audit", "audit::batch"])]
    );
}
