//! `#[derive(Wire)]`: user types round-trip through the wire encoding, and decoding bytes that
//! are not an encoding (random, truncated, mutated, adversarial) is an error, never a panic, a
//! hang or an allocation a length field asked for.

use offload::process::{Reader, Wire, WireError, Writer};
use proptest::prelude::*;

#[derive(Clone, Debug, PartialEq, Wire)]
struct Point {
    x: i32,
    y: i32,
}

#[derive(Clone, Debug, PartialEq, Wire)]
struct Meters(f64);

#[derive(Clone, Debug, PartialEq, Wire)]
struct Marker;

#[derive(Clone, Debug, PartialEq, Wire)]
enum Shape {
    Dot,
    Circle { center: Point, radius: Meters },
    Polygon(Vec<Point>, Option<String>),
    Tagged(Marker, char, bool),
}

/// Generic over what it holds: each type parameter must be `Wire` itself.
#[derive(Clone, Debug, PartialEq, Wire)]
struct Labelled<T, const N: usize> {
    label: String,
    items: [T; N],
}

/// Recursive through `Box` and `Vec`.
#[derive(Clone, Debug, PartialEq, Wire)]
enum Tree {
    Leaf(u8),
    Node(Box<Tree>, Vec<Tree>),
}

mod renamed {
    pub(crate) use offload as gear_offload;
}

/// `crate = path`, for a renamed `offload`.
#[derive(Clone, Debug, PartialEq, Wire)]
#[wire(crate = renamed::gear_offload)]
struct Renamed(u16);

fn encode<T: Wire>(value: &T) -> Vec<u8> {
    let mut out = Writer::new();
    value.encode(&mut out);
    out.as_bytes().to_vec()
}

fn decode<T: Wire>(bytes: &[u8]) -> Result<T, WireError> {
    let mut input = Reader::new(bytes);
    let value = T::decode(&mut input)?;
    input.finish()?;
    Ok(value)
}

fn shapes() -> Vec<Shape> {
    vec![
        Shape::Dot,
        Shape::Circle {
            center: Point { x: -3, y: 7 },
            radius: Meters(2.5),
        },
        Shape::Polygon(
            vec![Point { x: 0, y: 0 }, Point { x: 1, y: 2 }],
            Some("tri".into()),
        ),
        Shape::Polygon(Vec::new(), None),
        Shape::Tagged(Marker, 'ß', true),
    ]
}

#[test]
fn derived_types_round_trip() {
    for shape in shapes() {
        assert_eq!(decode::<Shape>(&encode(&shape)), Ok(shape));
    }
    let labelled = Labelled {
        label: "pair".into(),
        items: [Some(1u64), None],
    };
    assert_eq!(decode(&encode(&labelled)), Ok(labelled));
    let tree = Tree::Node(
        Box::new(Tree::Leaf(1)),
        vec![Tree::Leaf(2), Tree::Node(Box::new(Tree::Leaf(3)), vec![])],
    );
    assert_eq!(decode(&encode(&tree)), Ok(tree));
    assert_eq!(decode(&encode(&Renamed(9))), Ok(Renamed(9)));
}

#[test]
fn the_encoding_is_the_fields_in_order_after_a_one_byte_tag() {
    assert_eq!(
        encode(&Point { x: 1, y: -1 }),
        [1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]
    );
    // A struct without fields is one zero byte: every value takes at least one.
    assert_eq!(encode(&Marker), [0]);
    assert_eq!(encode(&Shape::Dot), [0]);
    assert_eq!(
        encode(&Shape::Tagged(Marker, 'a', false)),
        [3, 0, 97, 0, 0, 0, 0]
    );
}

#[test]
fn vectors_of_values_without_data_cross_and_hostile_lengths_of_them_do_not() {
    // Ten markers, ten units: bounded by their ten bytes, so they decode.
    assert_eq!(decode(&encode(&vec![Marker; 10])), Ok(vec![Marker; 10]));
    assert_eq!(decode(&encode(&vec![(); 10])), Ok(vec![(); 10]));
    assert_eq!(decode(&encode(&[[0u8; 0]; 3])), Ok([[0u8; 0]; 3]));
    assert_eq!(encode(&()), [0]);
    // Four billion units announced in four bytes: refused at once, not looped over.
    assert!(matches!(
        decode::<Vec<()>>(&[0xff, 0xff, 0xff, 0xff]),
        Err(WireError::Length { .. })
    ));
    // A unit byte that is not 0.
    assert_eq!(
        decode::<Marker>(&[5]),
        Err(WireError::Tag {
            ty: "Marker",
            tag: 5
        })
    );
    assert!(matches!(
        decode::<()>(&[]),
        Err(WireError::Truncated { .. })
    ));
}

#[test]
fn adversarial_bytes_are_errors() {
    // A variant index past the last.
    assert_eq!(
        decode::<Shape>(&[4]),
        Err(WireError::Tag {
            ty: "Shape",
            tag: 4
        })
    );
    // A field that is not its type (a bool of 2).
    assert_eq!(
        decode::<Shape>(&[3, 0, 97, 0, 0, 0, 2]),
        Err(WireError::Tag { ty: "bool", tag: 2 })
    );
    // A polygon claiming 4 G points in a few bytes: refused before anything is reserved.
    assert!(matches!(
        decode::<Shape>(&[2, 0xff, 0xff, 0xff, 0xff, 0]),
        Err(WireError::Length { .. })
    ));
    // A tree nested deeper than any program writes (each level one tag byte): refused at the
    // limit, without recursing through the hakase's stack.
    let mut deep = vec![1u8; 60_000];
    deep.push(0);
    deep.push(0);
    assert!(
        matches!(
            decode::<Tree>(&deep),
            Err(WireError::TooDeep {
                limit: Reader::MAX_DEPTH,
                ..
            })
        ),
        "{:?}",
        decode::<Tree>(&deep)
    );
    // As deep as the limit allows decodes.
    let mut ok = vec![1u8; Reader::MAX_DEPTH as usize - 1];
    ok.push(0);
    ok.push(5);
    ok.extend(std::iter::repeat_n([0u8; 4], Reader::MAX_DEPTH as usize - 1).flatten());
    assert!(decode::<Tree>(&ok).is_ok(), "{:?}", decode::<Tree>(&ok));
    // Every cut of a valid encoding is an error.
    for shape in shapes() {
        let bytes = encode(&shape);
        for cut in 0..bytes.len() {
            assert!(
                decode::<Shape>(&bytes[..cut]).is_err(),
                "{shape:?} cut at {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            decode::<Shape>(&longer),
            Err(WireError::TrailingBytes { extra: 1 })
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Random bytes: an error or a value that encodes back to exactly those bytes.
    #[test]
    fn random_bytes_decode_to_an_error_or_their_value(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(shape) = decode::<Shape>(&bytes) {
            prop_assert_eq!(encode(&shape), bytes.clone());
        }
        if let Ok(tree) = decode::<Tree>(&bytes) {
            prop_assert_eq!(encode(&tree), bytes.clone());
        }
        if let Ok(labelled) = decode::<Labelled<Option<u64>, 2>>(&bytes) {
            prop_assert_eq!(encode(&labelled), bytes);
        }
    }

    /// A valid encoding with one byte changed: the same.
    #[test]
    fn mutated_encodings_decode_to_an_error_or_their_value(
        which in 0..5usize,
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = encode(&shapes()[which]);
        if !bytes.is_empty() {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        if let Ok(shape) = decode::<Shape>(&bytes) {
            prop_assert_eq!(encode(&shape), bytes);
        }
    }
}
