//! The JSON paths of scenarios: `a.b[0].c`, quoted keys that contain `.`
//! (`annotations["org.x"]`), and filters picking the first element whose field is a string
//! (`manifests[digest=sha256:…].artifactType`).

use serde_json::Value;

pub fn json_path<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = v;
    let b = path.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'.' => i += 1,
            b'[' => {
                let end = path[i..].find(']')? + i;
                let inner = &path[i + 1..end];
                cur = if let Some(k) = inner.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
                    cur.get(k)?
                } else if let Some((k, want)) = inner.split_once('=') {
                    cur.as_array()?
                        .iter()
                        .find(|e| e.get(k).and_then(Value::as_str) == Some(want))?
                } else {
                    cur.get(inner.parse::<usize>().ok()?)?
                };
                i = end + 1;
            }
            _ => {
                let end = path[i..].find(['.', '[']).map_or(path.len(), |e| e + i);
                cur = cur.get(&path[i..end])?;
                i = end;
            }
        }
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths() {
        let v = json!({"errors":[{"code":"X"}],"annotations":{"org.a":"b"},
                       "manifests":[{"digest":"d1","t":1},{"digest":"d2","t":2}]});
        assert_eq!(json_path(&v, "errors[0].code"), Some(&json!("X")));
        assert_eq!(json_path(&v, "annotations[\"org.a\"]"), Some(&json!("b")));
        assert_eq!(json_path(&v, "manifests[digest=d2].t"), Some(&json!(2)));
        assert_eq!(json_path(&v, "manifests[digest=d3].t"), None);
        assert_eq!(json_path(&v, "errors[1]"), None);
        assert_eq!(json_path(&v, "errors[x]"), None);
        assert_eq!(json_path(&v, "errors[0"), None);
        assert_eq!(json_path(&v, ""), Some(&v));
    }
}
