//! The wire encoding of what crosses between a process friend and the hakase: arguments of an
//! exported call going in, its value coming back.
//!
//! Little-endian and length-prefixed, with no pointers and no padding: integers and floats at
//! their width (`usize`/`isize` as 64 bits), `bool` as one byte that must be 0 or 1, `char` as a
//! `u32` that must be a scalar value, strings and vectors as a `u32` length and their elements,
//! `Option` and `Result` as a tag byte and the value. Decoding trusts nothing: every length is
//! checked against the bytes that are there (so a hostile length cannot make it allocate more
//! than the message holds), every tag and UTF-8 string is validated, and bytes left over are an
//! error.
//!
//! `Box<T>` is `T`'s encoding, `[T; N]` its `N` elements. Values nest at most
//! [`Reader::MAX_DEPTH`] deep, so a recursive type read from hostile bytes cannot exhaust the
//! hakase's stack, and a vector reserves at most 64 KiB before its elements have decoded.
//!
//! User types derive [`Wire`] (see there, and why a derive rather than `serde`).

/// A value that can cross between processes: written into bytes, read back from bytes that
/// may be hostile. Derive it or write it.
///
/// # The encoding
///
/// Little-endian and length-prefixed, with no pointers and no padding: integers and floats at
/// their width (`usize`/`isize` as 64 bits), `bool` as one byte that must be 0 or 1, `char` as a
/// `u32` that must be a scalar value, strings and vectors as a `u32` length and their elements,
/// `Option` and `Result` as a tag byte and the value. Decoding trusts nothing: every length is
/// checked against the bytes that are there (so a hostile length cannot make it allocate more
/// than the message holds), every tag and UTF-8 string is validated, and bytes left over are an
/// error.
///
/// `Box<T>` is `T`'s encoding, `[T; N]` its `N` elements. Every value takes at least one byte:
/// `()`, `[T; 0]` and a struct without fields are one zero byte ([`Writer::unit`]), so a vector's
/// length is bounded by the bytes after it even when its elements hold no data (`vec![(); 10]`
/// crosses; a hostile length of four billion `()` is refused instead of looping). A hand-written
/// impl must keep that rule. Values nest at most
/// [`Reader::MAX_DEPTH`] deep, so a recursive type read from hostile bytes cannot exhaust the
/// hakase's stack, and a vector reserves at most 64 KiB before its elements have decoded.
///
///
/// # `#[derive(Wire)]`
///
/// A struct (named, tuple or unit fields) or an enum (variants with fields) whose fields are
/// all `Wire` derives it. A struct encodes as its fields in order; an enum as its variant's
/// index (one byte, two if it has more than 256 variants; declaration order, not the
/// discriminant) and then that variant's fields. Type parameters must be `Wire` themselves
/// (the derive adds the bounds); const parameters are fine. What cannot cross is a compile error
/// on the field: a reference (the value decoded owns its data: `String` for `&str`), a raw or
/// function pointer (an address means nothing in the other process), a trait object, a union
/// (which field is live is not in its bytes), a lifetime parameter. `#[wire(crate = path)]`
/// names a renamed `offload` dependency.
///
/// Why a derive of our own rather than `serde` with `bincode` or `postcard`: the format is
/// what the hakase validates, so it has to be one whose every check is in view here (bounded
/// lengths against the bytes present, one-byte tags that must be in range, UTF-8, a nesting
/// limit, no bytes left over) and that composes with the `&str`/`&[T]` parameters lent
/// without a copy; `serde`'s data model would bring a second encoding of the same primitives,
/// an extra dependency tree in every friend process (and under the friend's seccomp filter),
/// and a visitor layer between the bytes and the checks. A user type needs no more than its
/// fields do: the derive composes their `Wire` impls, and a hand-written impl
/// (below) remains possible for a type the derive cannot express.
///
/// ```
/// use offload::process::{Reader, Wire, Writer};
///
/// #[derive(Debug, PartialEq, Wire)]
/// enum Event { Key(char), Click { x: i32, y: i32 }, Quit }
///
/// let mut out = Writer::new();
/// Event::Click { x: 3, y: -1 }.encode(&mut out);
/// assert_eq!(out.as_bytes()[0], 1); // the variant's index
/// let decoded = Event::decode(&mut Reader::new(out.as_bytes()))?;
/// assert_eq!(decoded, Event::Click { x: 3, y: -1 });
/// // Hostile bytes are an error, never a panic: there is no fourth variant.
/// assert!(Event::decode(&mut Reader::new(&[3])).is_err());
/// # Ok::<(), offload::process::WireError>(())
/// ```
///
/// By hand:
///
/// ```
/// use offload::process::{Reader, Wire, WireError, Writer};
///
/// #[derive(Clone, Debug, PartialEq)]
/// struct Point { x: i32, y: i32 }
///
/// impl Wire for Point {
///     fn encode(&self, out: &mut Writer) {
///         self.x.encode(out);
///         self.y.encode(out);
///     }
///     fn decode(input: &mut Reader<'_>) -> Result<Self, WireError> {
///         Ok(Point { x: i32::decode(input)?, y: i32::decode(input)? })
///     }
/// }
///
/// let mut out = Writer::new();
/// Point { x: 1, y: -2 }.encode(&mut out);
/// let mut input = Reader::new(out.as_bytes());
/// assert_eq!(Point::decode(&mut input)?, Point { x: 1, y: -2 });
/// input.finish()?;
/// # Ok::<(), WireError>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot cross processes: it does not implement `Wire`",
    label = "not `Wire`",
    note = "derive it with `#[derive(offload::process::Wire)]` (or implement `Wire` by hand) \
            on a type of yours; wrap a foreign type in one of yours"
)]
pub trait Wire: Sized {
    /// Appends the value's encoding.
    fn encode(&self, out: &mut Writer);
    /// Reads a value, validating every byte it takes.
    ///
    /// # Errors
    ///
    /// [`WireError`] if the bytes are not the encoding of a value of this type.
    fn decode(input: &mut Reader<'_>) -> Result<Self, WireError>;
}

/// Bytes being written.
#[derive(Debug, Default)]
pub struct Writer(Vec<u8>);

impl Writer {
    /// An empty message.
    #[must_use]
    pub const fn new() -> Self {
        Self(Vec::new())
    }

    /// Appends raw bytes.
    pub fn bytes(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    /// Appends the one zero byte a value without data (`()`, a struct without fields, `[T; 0]`)
    /// is encoded as; [`Reader::unit`] reads it back.
    pub fn unit(&mut self) {
        self.0.push(0);
    }

    /// Appends a length prefix.
    ///
    /// # Panics
    ///
    /// If `len` does not fit 32 bits (no message is that long: the region holds 64 KiB).
    pub fn len_prefix(&mut self, len: usize) {
        let len = u32::try_from(len).expect("offload wire: a length over 4 GiB");
        self.bytes(&len.to_le_bytes());
    }

    /// What was written.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }
}

/// Bytes being read, each taken at most once, never past the end, with values nested at most
/// [`Reader::MAX_DEPTH`] deep.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    depth: u32,
}

impl<'a> Reader<'a> {
    /// Reads `bytes` from the start.
    #[must_use]
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            at: 0,
            depth: 0,
        }
    }

    /// How deep [`nest`](Self::nest) calls may go: far deeper than any type a program writes
    /// by hand, and shallow enough that a recursive type decoded from hostile bytes (a 64 KiB
    /// message could otherwise nest some 16 000 deep) cannot exhaust a thread's stack.
    pub const MAX_DEPTH: u32 = 128;

    /// Decodes one level of a value that may contain itself (every derived [`Wire`] type's
    /// `decode` goes through here; a hand-written one for a recursive type should too).
    ///
    /// # Errors
    ///
    /// [`WireError::TooDeep`] past [`MAX_DEPTH`](Self::MAX_DEPTH) levels, or what `decode`
    /// returns.
    #[inline]
    pub fn nest<T>(
        &mut self,
        decode: impl FnOnce(&mut Self) -> Result<T, WireError>,
    ) -> Result<T, WireError> {
        if self.depth >= Self::MAX_DEPTH {
            return Err(WireError::TooDeep {
                at: self.at,
                limit: Self::MAX_DEPTH,
            });
        }
        self.depth += 1;
        let value = decode(self);
        self.depth -= 1;
        value
    }

    /// Reads the byte a value without data of type `ty` is encoded as ([`Writer::unit`]).
    ///
    /// # Errors
    ///
    /// [`WireError::Truncated`] if no byte is left, [`WireError::Tag`] if it is not 0.
    pub fn unit(&mut self, ty: &'static str) -> Result<(), WireError> {
        match self.take(1)? {
            [0] => Ok(()),
            &[tag] => Err(WireError::Tag {
                ty,
                tag: u32::from(tag),
            }),
            _ => unreachable!("take(1) gives one byte"),
        }
    }

    /// The next `n` bytes.
    ///
    /// # Errors
    ///
    /// [`WireError::Truncated`] if fewer are left.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let left = self.bytes.len() - self.at;
        if n > left {
            return Err(WireError::Truncated {
                at: self.at,
                wanted: n,
                left,
            });
        }
        let taken = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(taken)
    }

    /// A length prefix for elements of at least `min_size` bytes each (at least 1 is assumed),
    /// checked against what is left.
    ///
    /// # Errors
    ///
    /// [`WireError::Truncated`] if the prefix is cut, [`WireError::Length`] if the elements
    /// it announces cannot fit in what is left.
    pub fn len_prefix(&mut self, min_size: usize) -> Result<usize, WireError> {
        let at = self.at;
        let len = u32::decode(self)? as usize;
        let left = self.bytes.len() - self.at;
        if len.saturating_mul(min_size.max(1)) > left {
            return Err(WireError::Length { at, len, left });
        }
        Ok(len)
    }

    /// Ends the message.
    ///
    /// # Errors
    ///
    /// [`WireError::TrailingBytes`] if some bytes were not read.
    pub fn finish(&self) -> Result<(), WireError> {
        match self.bytes.len() - self.at {
            0 => Ok(()),
            extra => Err(WireError::TrailingBytes { extra }),
        }
    }
}

/// Bytes that are not the encoding of a value of the type read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The message ends before the value does.
    #[error("truncated: a value at byte {at} needs {wanted} bytes, {left} are left")]
    Truncated {
        /// The offset of the value.
        at: usize,
        /// The bytes it needs.
        wanted: usize,
        /// The bytes there are.
        left: usize,
    },
    /// A length prefix announces more elements than the bytes left can hold.
    #[error("a length of {len} at byte {at} does not fit the {left} bytes left")]
    Length {
        /// The offset of the prefix.
        at: usize,
        /// The length it says.
        len: usize,
        /// The bytes left after it.
        left: usize,
    },
    /// A `bool`, `Option`, `Result` or enum tag that is none of its values.
    #[error("tag {tag} is not a value of {ty}")]
    Tag {
        /// The type read.
        ty: &'static str,
        /// The tag found.
        tag: u32,
    },
    /// A string that is not UTF-8.
    #[error("the string at byte {at} is not UTF-8")]
    Utf8 {
        /// The offset of the string's bytes.
        at: usize,
    },
    /// A `char` that is not a Unicode scalar value.
    #[error("{0:#x} is not a char")]
    Char(u32),
    /// Values nested deeper than [`Reader::MAX_DEPTH`].
    #[error("the value at byte {at} nests more than {limit} levels deep")]
    TooDeep {
        /// The offset of the value one level too deep.
        at: usize,
        /// The limit.
        limit: u32,
    },
    /// Bytes after the last value.
    #[error("{extra} bytes after the last value")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
}

macro_rules! fixed_width {
    ($($ty:ty),*) => {$(
        impl Wire for $ty {
            #[inline]
            fn encode(&self, out: &mut Writer) {
                out.bytes(&self.to_le_bytes());
            }
            #[inline]
            fn decode(input: &mut Reader<'_>) -> Result<Self, WireError> {
                let bytes = input.take(size_of::<$ty>())?;
                Ok(<$ty>::from_le_bytes(bytes.try_into().expect("took its width")))
            }
        }
    )*};
}

fixed_width!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128, f32, f64);

impl Wire for usize {
    fn encode(&self, out: &mut Writer) {
        (*self as u64).encode(out);
    }
    fn decode(input: &mut Reader<'_>) -> Result<Self, WireError> {
        let at = input.at;
        let value = u64::decode(input)?;
        usize::try_from(value).map_err(|_| WireError::Length {
            at,
            len: usize::MAX,
            left: 0,
        })
    }
}

impl Wire for isize {
    fn encode(&self, out: &mut Writer) {
        (*self as i64).encode(out);
    }
    fn decode(input: &mut Reader<'_>) -> Result<Self, WireError> {
        let value = i64::decode(input)?;
        isize::try_from(value).map_err(|_| WireError::Tag {
            ty: "isize",
            tag: 0,
        })
    }
}

impl Wire for bool {
    fn encode(&self, out: &mut Writer) {
        out.bytes(&[u8::from(*self)]);
    }
    fn decode(input: &mut Reader<'_>) -> Result<Self, WireError> {
        match u8::decode(input)? {
            0 => Ok(false),
            1 => Ok(true),
            tag => Err(WireError::Tag {
                ty: "bool",
                tag: tag.into(),
            }),
        }
    }
}

impl Wire for char {
    fn encode(&self, out: &mut Writer) {
        u32::from(*self).encode(out);
    }
    fn decode(input: &mut Reader<'_>) -> Result<Self, WireError> {
        let value = u32::decode(input)?;
        char::from_u32(value).ok_or(WireError::Char(value))
    }
}

impl Wire for () {
    fn encode(&self, out: &mut Writer) {
        out.unit();
    }
    fn decode(input: &mut Reader<'_>) -> Result<Self, WireError> {
        input.unit("()")
    }
}

impl Wire for String {
    fn encode(&self, out: &mut Writer) {
        self.as_str().encode_str(out);
    }
    fn decode(input: &mut Reader<'_>) -> Result<Self, WireError> {
        let len = input.len_prefix(1)?;
        let at = input.at;
        let bytes = input.take(len)?;
        core::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| WireError::Utf8 { at })
    }
}

trait EncodeStr {
    fn encode_str(&self, out: &mut Writer);
}

impl EncodeStr for str {
    fn encode_str(&self, out: &mut Writer) {
        out.len_prefix(self.len());
        out.bytes(self.as_bytes());
    }
}

/// The bytes each element of a length-prefixed vector is counted as, at least, when the length
/// is checked: one (every encoding takes at least one, `()` included), so no length makes
/// decoding allocate or loop more than the message is long.
const MIN_ELEMENT_BYTES: usize = 1;

impl<T: Wire> Wire for Vec<T> {
    fn encode(&self, out: &mut Writer) {
        encode_slice(self, out);
    }
    fn decode(input: &mut Reader<'_>) -> Result<Self, WireError> {
        let len = input.len_prefix(MIN_ELEMENT_BYTES)?;
        // The length is bounded by the bytes left, not by what its elements take in memory (a
        // one-byte encoding may decode to a large value): reserve at most
        // `PREALLOCATE_BYTES` up front and let the vector grow with what really decodes.
        let mut items = Vec::with_capacity(len.min(PREALLOCATE_BYTES / size_of::<T>().max(1)));
        for _ in 0..len {
            items.push(T::decode(input)?);
        }
        Ok(items)
    }
}

/// The most a vector's decoding reserves before its elements have decoded.
const PREALLOCATE_BYTES: usize = 64 * 1024;

impl<T: Wire> Wire for Box<T> {
    fn encode(&self, out: &mut Writer) {
        (**self).encode(out);
    }
    fn decode(input: &mut Reader<'_>) -> Result<Self, WireError> {
        T::decode(input).map(Box::new)
    }
}

impl<T: Wire, const N: usize> Wire for [T; N] {
    fn encode(&self, out: &mut Writer) {
        if N == 0 {
            // No elements: the one byte every value takes.
            out.unit();
        }
        for item in self {
            item.encode(out);
        }
    }
    fn decode(input: &mut Reader<'_>) -> Result<Self, WireError> {
        if N == 0 {
            input.unit("[T; 0]")?;
        }
        let mut items = Vec::with_capacity(N.min(PREALLOCATE_BYTES / size_of::<T>().max(1)));
        for _ in 0..N {
            items.push(T::decode(input)?);
        }
        Ok(items
            .try_into()
            .unwrap_or_else(|_| unreachable!("decoded {N} items")))
    }
}

fn encode_slice<T: Wire>(items: &[T], out: &mut Writer) {
    out.len_prefix(items.len());
    for item in items {
        item.encode(out);
    }
}

impl<T: Wire> Wire for Option<T> {
    fn encode(&self, out: &mut Writer) {
        match self {
            None => out.bytes(&[0]),
            Some(value) => {
                out.bytes(&[1]);
                value.encode(out);
            }
        }
    }
    fn decode(input: &mut Reader<'_>) -> Result<Self, WireError> {
        match u8::decode(input)? {
            0 => Ok(None),
            1 => Ok(Some(T::decode(input)?)),
            tag => Err(WireError::Tag {
                ty: "Option",
                tag: tag.into(),
            }),
        }
    }
}

impl<T: Wire, E: Wire> Wire for Result<T, E> {
    fn encode(&self, out: &mut Writer) {
        match self {
            Ok(value) => {
                out.bytes(&[0]);
                value.encode(out);
            }
            Err(error) => {
                out.bytes(&[1]);
                error.encode(out);
            }
        }
    }
    fn decode(input: &mut Reader<'_>) -> Result<Self, WireError> {
        match u8::decode(input)? {
            0 => Ok(Ok(T::decode(input)?)),
            1 => Ok(Err(E::decode(input)?)),
            tag => Err(WireError::Tag {
                ty: "Result",
                tag: tag.into(),
            }),
        }
    }
}

macro_rules! tuples {
    ($(($($name:ident),+))*) => {$(
        impl<$($name: Wire),+> Wire for ($($name,)+) {
            #[allow(non_snake_case)]
            fn encode(&self, out: &mut Writer) {
                let ($($name,)+) = self;
                $($name.encode(out);)+
            }
            fn decode(input: &mut Reader<'_>) -> Result<Self, WireError> {
                Ok(($($name::decode(input)?,)+))
            }
        }
    )*};
}

tuples!((A)(A, B)(A, B, C)(A, B, C, D));

/// A parameter type of a declared exported function: a [`Wire`] value, or a `&str` or `&[T]`
/// that crosses as its owned form and is lent to the function on the hakase.
pub trait Arg<'a>: Sized {
    /// What the hakase decodes before it lends it to the function.
    type Owned: Wire;
    /// Appends the argument's encoding.
    fn encode_arg(&self, out: &mut Writer);
    /// The argument, from what the hakase decoded (`Some`, taken by an owned parameter and
    /// borrowed by a `&str` or `&[T]` one).
    fn view(owned: &'a mut Option<Self::Owned>) -> Self;
}

impl<'a, T: Wire> Arg<'a> for T {
    type Owned = T;
    fn encode_arg(&self, out: &mut Writer) {
        self.encode(out);
    }
    fn view(owned: &'a mut Option<T>) -> T {
        // Moved, not cloned: a type crosses without having to be `Clone`.
        owned
            .take()
            .expect("each argument is decoded once and lent once")
    }
}

impl<'a> Arg<'a> for &'a str {
    type Owned = String;
    fn encode_arg(&self, out: &mut Writer) {
        self.encode_str(out);
    }
    fn view(owned: &'a mut Option<String>) -> Self {
        let owned: &'a Option<String> = owned;
        owned
            .as_deref()
            .expect("each argument is decoded once and lent once")
    }
}

impl<'a, T: Wire> Arg<'a> for &'a [T] {
    type Owned = Vec<T>;
    fn encode_arg(&self, out: &mut Writer) {
        encode_slice(self, out);
    }
    fn view(owned: &'a mut Option<Vec<T>>) -> Self {
        let owned: &'a Option<Vec<T>> = owned;
        owned
            .as_deref()
            .expect("each argument is decoded once and lent once")
    }
}

/// Decodes an argument of type `T` (generated code names its parameter types here).
#[doc(hidden)]
pub fn decode_arg<'a, T: Arg<'a>>(input: &mut Reader<'_>) -> Result<Option<T::Owned>, WireError> {
    T::Owned::decode(input).map(Some)
}

/// Lends (or hands over) a decoded argument as the parameter type `T`.
#[doc(hidden)]
pub fn view_arg<'a, T: Arg<'a>>(owned: &'a mut Option<T::Owned>) -> T {
    T::view(owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Wire + PartialEq + core::fmt::Debug>(value: T) {
        let mut out = Writer::new();
        value.encode(&mut out);
        let mut input = Reader::new(out.as_bytes());
        assert_eq!(T::decode(&mut input).unwrap(), value);
        input.finish().unwrap();
    }

    #[test]
    fn values_round_trip() {
        round_trip(0x1234_5678_u32);
        round_trip(-5_i64);
        round_trip(usize::MAX);
        round_trip(true);
        round_trip('é');
        round_trip(1.5_f64);
        round_trip(String::from("héllo"));
        round_trip(vec![1_u16, 2, 3]);
        round_trip(Some(vec![String::from("a"), String::new()]));
        round_trip(Ok::<u8, String>(3));
        round_trip((1_u8, String::from("x"), false));
    }

    #[test]
    fn hostile_bytes_are_errors() {
        assert_eq!(
            bool::decode(&mut Reader::new(&[2])),
            Err(WireError::Tag { ty: "bool", tag: 2 })
        );
        assert!(matches!(
            String::decode(&mut Reader::new(&[2, 0, 0, 0, 0xff, 0xfe])),
            Err(WireError::Utf8 { at: 4 })
        ));
        // A length of 4 G elements in a 6-byte message: refused before any allocation.
        assert!(matches!(
            Vec::<u64>::decode(&mut Reader::new(&[0xff, 0xff, 0xff, 0xff, 0, 0])),
            Err(WireError::Length { .. })
        ));
        assert!(matches!(
            u32::decode(&mut Reader::new(&[1, 2])),
            Err(WireError::Truncated { .. })
        ));
        assert!(matches!(
            char::decode(&mut Reader::new(&0xd800_u32.to_le_bytes())),
            Err(WireError::Char(0xd800))
        ));
        let mut input = Reader::new(&[1, 0]);
        u8::decode(&mut input).unwrap();
        assert_eq!(input.finish(), Err(WireError::TrailingBytes { extra: 1 }));
    }
}
