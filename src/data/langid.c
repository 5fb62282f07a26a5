// langid: script counts and a function-word model.  See langid.h for the contract.
#include "data/langid.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

// ---------------------------------------------------------------------------------------------
// The word model's languages and their lists (lower case, space-separated).  Each list is ours:
// the most frequent function words of the language (articles, pronouns, prepositions,
// conjunctions, auxiliaries), chosen to tell it from its neighbours, not copied from any
// stop-word file.  hints: letters with diacritics typical of the language (lower case).

typedef struct {
    const char *code;
    int cyrillic;  // 0: the list is for Latin-script text, 1: for Cyrillic
    const char *words;
    const char *hints;
} li_lang_def_t;

static const li_lang_def_t LANGS[] = {
    {"en", 0,
     "the of and to in is that it for was on are as with be by this at from or have an not which "
     "but they you we he his her she their has had were been can will would there all one when if "
     "so what about into than its also other only some these may such who no do does how our out "
     "them then must should could each any most both your my me him those here very just more "
     "after before between because while where through under over without within until whether "
     "either being a i",
     ""},
    {"de", 0,
     "der die das und ist nicht ein eine einen einem einer eines zu den dem des mit von sich auf "
     "für im auch es an als wird werden wurde kann können oder aber wenn nur bei nach aus wie noch "
     "dass daß diese dieser dieses durch zum zur sind hat haben sein ich sie er wir man was um über "
     "vor unter so bis ohne kein keine dann soll muss wo alle mehr sowie jedoch zwischen dabei "
     "damit falls ob hier sonst gibt wieder schon sehr sollte immer also",
     "äöüß"},
    {"fr", 0,
     "le la les de des du un une et est en que qui dans pour pas sur au aux ce cette ces il ils elle "
     "elles nous vous on ne par plus ou avec sont être été son sa ses leur leurs se si mais comme "
     "tout tous toutes peut fait cela ceci dont lors sans aussi avoir entre très où y qu' l' d' n' s' c' j' "
     "a à ça celui celle doit peuvent",
     "éèêàçëîïôûùœâ"},
    {"es", 0,
     "el la los las de del y a en que es un una por con para no se lo al su sus como más pero o sí si "
     "este esta estos estas ese esa son ser está están hay puede cuando donde también muy sin sobre "
     "entre ya todo todos le les fue han ha desde hasta otro otra cada mismo porque según cual "
     "pueden debe",
     "ñáéíóú"},
    {"it", 0,
     "il lo la i gli le di da del della dei delle dello al alla ai alle nel nella nei nelle sul "
     "sulla un una uno e è che non per con come più ma anche o se si sono essere questo questa "
     "questi quello quella ci ne ha hanno può solo dove quando tra fra tutto tutti molto già ancora "
     "cui viene stato deve l' dell' nell' all' sull' dall' un'",
     "àèéìòù"},
    {"pt", 0,
     "o a os as de do da dos das em no na nos nas um uma e é que não para por com se mais mas como "
     "ao aos à às ou seu sua seus suas este esta isso isto ele ela eles são ser está pode quando "
     "onde também muito já entre sobre sem pelo pela pelos pelas foi tem há depois ainda cada "
     "mesmo você qual num numa deve",
     "ãõçáéíóúâêôà"},
    {"nl", 0,
     "de het een en van in is dat op te zijn die niet met voor er aan om ook als bij of door maar "
     "naar dan worden wordt werd kan kunnen moet deze dit wel nog geen zich hij zij ze we wij u uit "
     "over tot al meer wat waar hoe wanneer omdat hebben heeft had zal zou onder tussen alle alleen "
     "zonder mijn uw hun hier daar dus echter",
     ""},
    {"pl", 0,
     "i w z na się nie do to że jest o jak a od po za dla co tak ale czy lub oraz jego jej ich może "
     "są być tylko przez przy który która które którego których jeśli jeżeli gdy ten ta te tego "
     "tym tej także też już bez pod nad przed między aby gdzie więc można należy został została "
     "zostanie będzie wszystkie ze we sobie",
     "ąęłńśźżćó"},
    {"sv", 0,
     "och i att det som en på är av för med till den har de inte om ett men var jag han hon vi ni "
     "så kan ska skall från eller vid när sig alla också efter under utan mellan där här vara blir "
     "blev detta denna dessa bara mycket finns nu sedan vilket vilken hur vad även än",
     "åäö"},
    {"da", 0,
     "og i at det en den til er som på de med af for ikke der var sig men et har om vi han hun nu "
     "fra du ud sin dem op man hvor eller hvad skal her alle vil blev kunne ind når være noget "
     "deres efter denne end dette også under have meget mod disse hvis nogle hos blive mange bliver "
     "været",
     "åæø"},
    {"cs", 0,
     "a v se na je že to s z o do k i jako pro ale by jsou není jeho její jejich který která které "
     "kterou když také tak po při od za pouze nebo jen lze může mohou bude byl byla bylo být tento "
     "tato toto tyto všechny jsem už již ve ze bez než pokud mezi aby podle však zda jak co kde",
     "ěščřžýáíéúůťďň"},
    {"hr", 0,
     "i je u se na da za od su ne što kao ili ali koji koja koje može samo biti će iz do bez "
     "između nije sa ako kada gdje jer već ovaj ova ovo ti te to bi bio bila još sve svi",
     "čćđšž"},
    {"sl", 0,
     "je in na se da za z v so ki ne pa ali bi tudi kot če od po iz do lahko ta to ko še že samo med "
     "brez pri kjer ni bo bil bila bilo biti sta ste smo kar kako ker vendar",
     "čšž"},
    {"hu", 0,
     "a az és hogy nem is egy meg van ez de csak már még mint ha volt vagy azt ki el ami amely "
     "amelyek lesz kell lehet ezt mert minden után között pedig sem nagyon fel itt ott majd így "
     "úgy vannak nincs",
     "őűáéíóöüú"},
    {"fi", 0,
     "ja on ei että se oli hän ovat kun tai mutta joka jos niin myös kuin ole sen tämä ne vain voi "
     "mukaan siitä sitä jotka kanssa jälkeen olla ollut sekä mitä mikä nyt jo hyvin koska tässä "
     "vielä",
     "äö"},
    {"ro", 0,
     "și şi de la în a cu pe nu care se o un mai din pentru este sunt ca să sau dar ce acest "
     "această fi au poate fost iar prin dacă când sa si in",
     "ăâîșțşţ"},
    {"tr", 0,
     "ve bir bu da de için ile ne o ama gibi daha çok olarak olan var yok en kadar sonra ise mi mı "
     "her şey veya değil ki göre şu tüm ancak olduğu diye hem sadece aynı",
     "çğışöü"},
    {"id", 0,
     "yang dan di ini itu dengan untuk tidak dari dalam akan pada juga ke ada atau oleh adalah "
     "sebagai bisa dapat karena saya kami kita mereka tersebut jika harus telah sudah lebih hanya "
     "seperti belum bahwa ketika setelah antara semua",
     ""},
    {"vi", 0,
     "của và các có là được trong cho không những một với này người để đã khi từ theo thì đến "
     "cũng như nếu sẽ ra vào lại",
     "ơưđăâêô"},
    {"ru", 1,
     "и в не на что с по это как он она они к но из у за от для о так же все то бы был была было "
     "были его её их при или если только может также уже есть быть когда этот эта эти который "
     "которые которая чтобы до после где можно нет ещё более между без через под над",
     "ыэъё"},
    {"uk", 1,
     "і й в у на не що з до та це як за від для по але або він вона вони його її їх при якщо тільки "
     "може також вже бути коли цей ця ці який яка які щоб після де можна немає ще між без через "
     "під над є було був буде",
     "іїєґ"},
    {"bg", 1,
     "и в на не да се е от за с по че това как той тя те към но или ако само може също вече когато "
     "този тази тези които която който след където са бъде със във при до ще без между",
     "ъ"},
    {"sr", 1,
     "и у је да се на не за од са што као али или ако само може такође већ када овај ова ови који "
     "која које после где су бити ће из до без између",
     "ђјљњћџ"},
};
#define LI_NUM_LANGS ((int)(sizeof LANGS / sizeof LANGS[0]))
_Static_assert(LI_NUM_LANGS <= 32, "language masks are 32 bits");

// Vietnamese: Latin Extended Additional (U+1E00-1EFF) is almost only Vietnamese letters with
// tone marks, so the whole block hints "vi".
#define LI_VI_BLOCK_LO 0x1EA0
#define LI_VI_BLOCK_HI 0x1EF9

// ---------------------------------------------------------------------------------------------
// The model: an open-addressing table of words -> language mask, and hint masks per letter.

#define LI_WORD_MAX 23  // bytes; longer words are in no list
#define LI_TABLE 4096   // slots, a power of two, at most half full

typedef struct {
    uint32_t mask;  // 0: empty slot
    uint8_t len;
    char w[LI_WORD_MAX];
} li_slot_t;

struct li {
    li_slot_t slot[LI_TABLE];
    uint32_t hint_latin[0x250];  // code points U+0000-024F (only >= U+00C0 are set)
    uint32_t hint_cyr[0x100];    // U+0400-04FF
    uint32_t vi_mask;             // the bit of "vi"
    int ru;                       // index of "ru"
    const char *codes[LI_NUM_LANGS + 1];  // NULL-terminated
};

static uint32_t fnv32(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h ^ h >> 15;
}

static int table_add(li_t *m, const char *w, size_t n, uint32_t bit) {
    if (n == 0 || n > LI_WORD_MAX) return 0;
    for (uint32_t i = fnv32(w, n) & (LI_TABLE - 1), k = 0; k < LI_TABLE; i = (i + 1) & (LI_TABLE - 1), k++) {
        li_slot_t *s = &m->slot[i];
        if (!s->mask) {
            s->mask = bit, s->len = (uint8_t)n;
            memcpy(s->w, w, n);
            return 0;
        }
        if (s->len == n && memcmp(s->w, w, n) == 0) {
            s->mask |= bit;
            return 0;
        }
    }
    return -1;
}

static uint32_t table_find(const li_t *m, const char *w, size_t n) {
    for (uint32_t i = fnv32(w, n) & (LI_TABLE - 1);; i = (i + 1) & (LI_TABLE - 1)) {
        const li_slot_t *s = &m->slot[i];
        if (!s->mask) return 0;
        if (s->len == n && memcmp(s->w, w, n) == 0) return s->mask;
    }
}

// ---------------------------------------------------------------------------------------------
// UTF-8, scripts, lower case


static size_t u8_put(char *out, uint32_t cp) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12), out[1] = (char)(0x80 | (cp >> 6 & 0x3F)), out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18), out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F)), out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

#define LI_NONE LI_NUM_SCRIPTS  // not a letter

// Letter ranges of non-ASCII code points, sorted, disjoint; anything outside is not a letter
// (punctuation, symbols, digits, spaces, combining marks of no listed block).
typedef struct {
    uint32_t lo, hi;
    uint8_t script;
} li_range_t;

static const li_range_t RANGES[] = {
    {0x00AA, 0x00AA, LI_LATN}, {0x00BA, 0x00BA, LI_LATN}, {0x00C0, 0x00D6, LI_LATN},
    {0x00D8, 0x00F6, LI_LATN}, {0x00F8, 0x02AF, LI_LATN}, {0x0370, 0x03FF, LI_GREK},
    {0x0400, 0x052F, LI_CYRL}, {0x0531, 0x058F, LI_ARMN}, {0x05D0, 0x05F2, LI_HEBR},
    {0x0620, 0x065F, LI_ARAB}, {0x066E, 0x06D3, LI_ARAB}, {0x06D5, 0x06D5, LI_ARAB},
    {0x06FA, 0x06FF, LI_ARAB}, {0x0750, 0x077F, LI_ARAB}, {0x08A0, 0x08FF, LI_ARAB},
    {0x0900, 0x0963, LI_DEVA}, {0x0971, 0x097F, LI_DEVA}, {0x0980, 0x09E3, LI_BENG},
    {0x09F0, 0x09F1, LI_BENG}, {0x0A00, 0x0A5F, LI_GURU}, {0x0A70, 0x0A7F, LI_GURU},
    {0x0A80, 0x0AE3, LI_GUJR}, {0x0B00, 0x0B63, LI_ORYA}, {0x0B80, 0x0BE3, LI_TAML},
    {0x0C00, 0x0C63, LI_TELU}, {0x0C80, 0x0CE3, LI_KNDA}, {0x0D00, 0x0D63, LI_MLYM},
    {0x0D80, 0x0DE3, LI_SINH}, {0x0E01, 0x0E4E, LI_THAI}, {0x0E81, 0x0ECF, LI_LAOO},
    {0x0F00, 0x0F1F, LI_TIBT}, {0x0F40, 0x0FBC, LI_TIBT}, {0x1000, 0x103F, LI_MYMR},
    {0x1050, 0x109F, LI_MYMR}, {0x10A0, 0x10FF, LI_GEOR}, {0x1100, 0x11FF, LI_HANG},
    {0x1200, 0x139F, LI_ETHI}, {0x1780, 0x17D3, LI_KHMR}, {0x1C90, 0x1CBF, LI_GEOR},
    {0x1E00, 0x1EFF, LI_LATN}, {0x1F00, 0x1FFF, LI_GREK}, {0x2D00, 0x2D2F, LI_GEOR},
    {0x3005, 0x3005, LI_HANI}, {0x3007, 0x3007, LI_HANI}, {0x3041, 0x309F, LI_HIRA},
    {0x30A0, 0x30FF, LI_KANA}, {0x3131, 0x318E, LI_HANG}, {0x31F0, 0x31FF, LI_KANA},
    {0x3400, 0x4DBF, LI_HANI}, {0x4E00, 0x9FFF, LI_HANI}, {0xA960, 0xA97F, LI_HANG},
    {0xAC00, 0xD7FF, LI_HANG}, {0xF900, 0xFAFF, LI_HANI}, {0xFB1D, 0xFB4F, LI_HEBR},
    {0xFB50, 0xFDFF, LI_ARAB}, {0xFE70, 0xFEFF, LI_ARAB}, {0xFF21, 0xFF3A, LI_LATN},
    {0xFF41, 0xFF5A, LI_LATN}, {0xFF66, 0xFF9F, LI_KANA}, {0xFFA0, 0xFFDC, LI_HANG},
    {0x20000, 0x2FA1F, LI_HANI}, {0x30000, 0x3134F, LI_HANI},
};

static int script_of(uint32_t cp) {
    if (cp < 0x80) return ((cp | 0x20) - 'a' < 26) ? LI_LATN : LI_NONE;
    // The common blocks first, without the search.
    if (cp >= 0x4E00 && cp <= 0x9FFF) return LI_HANI;
    if (cp >= 0x3041 && cp <= 0x30FF) return cp <= 0x309F ? LI_HIRA : LI_KANA;
    if (cp >= 0x0400 && cp <= 0x04FF) return LI_CYRL;
    if (cp >= 0x00F8 && cp <= 0x024F) return LI_LATN;
    size_t lo = 0, hi = sizeof RANGES / sizeof RANGES[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < RANGES[mid].lo) hi = mid;
        else if (cp > RANGES[mid].hi) lo = mid + 1;
        else return RANGES[mid].script;
    }
    return LI_NONE;
}

// Lower case for the Latin and Cyrillic letters the word lists use; others are returned as is.
static uint32_t lower(uint32_t cp) {
    if (cp < 0x80) return cp - 'A' < 26 ? cp + 32 : cp;
    if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) return cp + 0x20;
    if (cp == 0x130) return 'i';  // Turkish dotted capital I
    if ((cp >= 0x100 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177) || (cp >= 0x218 && cp <= 0x21B) ||
        (cp >= 0x1E00 && cp <= 0x1EFF))
        return cp | 1;  // pairs: even upper, odd lower
    if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E)) return cp & 1 ? cp + 1 : cp;
    if (cp == 0x178) return 0xFF;
    if (cp == 0x1A0 || cp == 0x1AF) return cp + 1;  // Ơ Ư
    if (cp >= 0x410 && cp <= 0x42F) return cp + 0x20;
    if (cp >= 0x400 && cp <= 0x40F) return cp + 0x50;
    if (cp >= 0x490 && cp <= 0x4BF) return cp | 1;  // Ґ and the other paired extensions
    return cp;
}

// ---------------------------------------------------------------------------------------------
// Model construction

const char *li_script_name(li_script_t s) {
#define LI_NAME_(e, str) str,
    static const char *const names[] = {LI_SCRIPTS(LI_NAME_)};
#undef LI_NAME_
    if ((int)s < 0 || s >= LI_NUM_SCRIPTS) return "Zyyy";
    return names[s];
}

const char *const *li_langs(const li_t *m) { return m->codes; }

int li_init(li_t **out, err_t *e) {
    *out = NULL;
    li_t *m = calloc(1, sizeof *m);
    if (!m) return err_set(e, "langid: out of memory allocating the model (%zu bytes)", sizeof *m);
    m->ru = -1;
    for (int l = 0; l < LI_NUM_LANGS; l++) {
        uint32_t bit = 1u << l;
        m->codes[l] = LANGS[l].code;
        if (strcmp(LANGS[l].code, "vi") == 0) m->vi_mask = bit;
        if (strcmp(LANGS[l].code, "ru") == 0) m->ru = l;
        for (const char *p = LANGS[l].words; *p;) {
            while (*p == ' ') p++;
            const char *q = p;
            while (*q && *q != ' ') q++;
            if (q > p && table_add(m, p, (size_t)(q - p), bit) != 0) {
                free(m);
                return err_set(e, "langid: the word table is full (raise LI_TABLE in langid.c)");
            }
            p = q;
        }
        const unsigned char *h = (const unsigned char *)LANGS[l].hints;
        size_t n = strlen(LANGS[l].hints);
        for (size_t i = 0; i < n;) {
            uint32_t cp = utf8_next(h, n, &i);
            if (cp >= 0xC0 && cp < 0x250) m->hint_latin[cp] |= bit;
            else if (cp >= 0x400 && cp < 0x500) m->hint_cyr[cp - 0x400] |= bit;
        }
    }
    *out = m;
    return 0;
}

void li_free(li_t *m) { free(m); }

// ---------------------------------------------------------------------------------------------
// Identification

static void set_str(char *dst, const char *src) {  // dst has room for 8 bytes
    size_t n = strlen(src);
    if (n > 7) n = 7;
    memcpy(dst, src, n);
    dst[n] = 0;
}

// Letters per script over the whole text, unweighted.
static void count_scripts(const unsigned char *s, size_t len, size_t count[LI_NUM_SCRIPTS + 1]) {
    size_t i = 0;
    while (i < len) {
        // ASCII fast path, 8 bytes at a time: count letters by arithmetic on the lower-cased
        // bytes (each byte b | 0x20 is a letter iff it lies in 'a'..'z').
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ULL) break;
            uint64_t x = w | 0x2020202020202020ULL;
            uint64_t ge_a = x + 0x1f1f1f1f1f1f1f1fULL;   // bit 7 set iff byte >= 'a' (0x61)
            uint64_t gt_z = x + 0x0505050505050505ULL;   // bit 7 set iff byte > 'z' (0x7a)
            uint64_t letter = ge_a & ~gt_z & 0x8080808080808080ULL;
            count[LI_LATN] += (size_t)__builtin_popcountll(letter);
            i += 8;
        }
        if (i >= len) break;
        if (s[i] < 0x80) {
            count[script_of(s[i])]++;
            i++;
            continue;
        }
        count[script_of(utf8_next(s, len, &i))]++;
    }
}

// Persian and Urdu letters that Arabic does not use.
static int is_fa_letter(uint32_t cp) { return cp == 0x067E || cp == 0x0686 || cp == 0x0698 || cp == 0x06AF || cp == 0x06A9 || cp == 0x06CC; }
static int is_ur_letter(uint32_t cp) { return cp == 0x0679 || cp == 0x0688 || cp == 0x0691 || cp == 0x06BA || cp == 0x06D2 || cp == 0x06C1; }

static const char *arabic_lang(const unsigned char *s, size_t len, size_t arab) {
    size_t fa = 0, ur = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp = utf8_next(s, len, &i);
        fa += (size_t)is_fa_letter(cp), ur += (size_t)is_ur_letter(cp);
    }
    if (ur * 50 >= arab && ur > 0) return "ur";
    if (fa * 50 >= arab && fa > 0) return "fa";
    return "ar";
}

// Adds weight to the languages of mask, shared equally: a word in k lists is 1/k evidence for
// each, so words that tell languages apart count more than those they share.
static void add_shared(double sum[32], uint32_t mask, double weight) {
    if (!mask) return;
    weight /= __builtin_popcount(mask);
    for (; mask; mask &= mask - 1) sum[__builtin_ctz(mask)] += weight;
}

// Bytes that, right before or after a word, mark it as part of code, an option, a path, an
// address or an identifier ("-C", "/etc", "$HOME", "foo_bar", "f(x)", "a=b", "utf8"), not prose.
static int codeish_before(unsigned char b) { return b && (strchr("-_/\\$@.=%&<{[#~", b) || (b >= '0' && b <= '9')); }
static int codeish_after(unsigned char b) { return b && (strchr("_(=/@\\{[<", b) || (b >= '0' && b <= '9')); }

// The word model over text[0..min(len, LI_MODEL_SPAN)): sums per language.  A word followed by
// an apostrophe (' or U+2019) is looked up first with it ("l'", "qu'", "dell'": elisions, in
// the lists with their apostrophe so that "-l" or "d" alone never counts as French).
static void score_words(const li_t *m, const unsigned char *s, size_t len, double sum[32]) {
    if (len > LI_MODEL_SPAN) len = LI_MODEL_SPAN;
    char w[LI_WORD_MAX + 8];
    size_t wn = 0, start = 0;
    int too_long = 0;
    for (size_t i = 0; i <= len;) {
        size_t at = i;
        uint32_t cp = 0;
        int sc = LI_NONE;
        if (i < len) {
            if (s[i] < 0x80) {
                cp = s[i++];
                sc = (cp | 0x20) - 'a' < 26 ? LI_LATN : LI_NONE;
            } else {
                cp = utf8_next(s, len, &i);
                sc = script_of(cp);
            }
        } else {
            i++;
        }
        if (sc == LI_LATN || sc == LI_CYRL) {
            if (wn == 0 && !too_long) start = at;
            cp = lower(cp);
            uint32_t hint = 0;
            if (cp >= 0xC0 && cp < 0x250) hint = m->hint_latin[cp];
            else if (cp >= 0x400 && cp < 0x500) hint = m->hint_cyr[cp - 0x400];
            else if (cp >= LI_VI_BLOCK_LO && cp <= LI_VI_BLOCK_HI) hint = m->vi_mask;
            add_shared(sum, hint, LI_HINT_WEIGHT);
            if (wn + 4 <= LI_WORD_MAX) wn += u8_put(w + wn, cp);
            else too_long = 1;
            continue;
        }
        if (wn && !too_long && !(start > 0 && codeish_before(s[start - 1])) && !(at < len && codeish_after(s[at]))) {
            uint32_t mask = 0;
            if (cp == '\'' || cp == 0x2019) w[wn] = '\'', mask = table_find(m, w, wn + 1);
            if (!mask) mask = table_find(m, w, wn);
            add_shared(sum, mask, 1);
        }
        wn = 0, too_long = 0;
    }
}

li_result_t li_identify(const li_t *m, const char *text, size_t len) {
    li_result_t r;
    memset(&r, 0, sizeof r);
    set_str(r.lang, "und");
    set_str(r.script, "Zyyy");
    if (!text) len = 0;
    const unsigned char *s = (const unsigned char *)text;

    size_t count[LI_NUM_SCRIPTS + 1] = {0};
    count_scripts(s, len, count);
    double weighted = 0, wc[LI_NUM_SCRIPTS];
    for (int k = 0; k < LI_NUM_SCRIPTS; k++) {
        int cjk = k == LI_HIRA || k == LI_KANA || k == LI_HANI || k == LI_HANG;
        wc[k] = (double)count[k] * (cjk ? LI_CJK_WEIGHT : 1);
        weighted += wc[k];
        r.letters += count[k];
    }
    if (weighted > 0)
        for (int k = 0; k < LI_NUM_SCRIPTS; k++) r.share[k] = (float)(wc[k] / weighted);
    if (weighted < LI_MIN_LETTERS) return r;

    // The script that decides: the non-Latin one with the largest share (CJK counted together)
    // if that share is >= LI_SCRIPT_MIN_SHARE or above Latin's, else Latin.
    double evidence = weighted / LI_FULL_LETTERS < 1 ? weighted / LI_FULL_LETTERS : 1;
    double cjk = wc[LI_HIRA] + wc[LI_KANA] + wc[LI_HANI] + wc[LI_HANG];
    int best = -1;  // -1: CJK
    double best_wc = cjk;
    for (int k = 0; k < LI_NUM_SCRIPTS; k++) {
        int is_cjk = k == LI_HIRA || k == LI_KANA || k == LI_HANI || k == LI_HANG;
        if (k != LI_LATN && !is_cjk && wc[k] > best_wc) best = k, best_wc = wc[k];
    }
    if (best_wc < LI_SCRIPT_MIN_SHARE * weighted && best_wc <= wc[LI_LATN]) best = LI_LATN, best_wc = wc[LI_LATN];
    double dominance = best_wc / weighted;
    if (best < 0) {
        double n = (double)(count[LI_HIRA] + count[LI_KANA] + count[LI_HANI] + count[LI_HANG]);
        double kana = (double)(count[LI_HIRA] + count[LI_KANA]), hang = (double)count[LI_HANG];
        if (hang >= LI_KO_MIN_HANGUL * n && hang > kana) set_str(r.lang, "ko"), set_str(r.script, "Kore");
        else if (kana >= LI_JA_MIN_KANA * n) set_str(r.lang, "ja"), set_str(r.script, "Jpan");
        else set_str(r.lang, "zh"), set_str(r.script, "Hani");
        r.score = dominance * evidence;
        return r;
    }
    set_str(r.script, li_script_name((li_script_t)best));
    static const char *const script_lang[LI_NUM_SCRIPTS] = {
        [LI_GREK] = "el", [LI_ARMN] = "hy", [LI_HEBR] = "he", [LI_DEVA] = "hi", [LI_BENG] = "bn",
        [LI_GURU] = "pa", [LI_GUJR] = "gu", [LI_ORYA] = "or", [LI_TAML] = "ta", [LI_TELU] = "te",
        [LI_KNDA] = "kn", [LI_MLYM] = "ml", [LI_SINH] = "si", [LI_THAI] = "th", [LI_LAOO] = "lo",
        [LI_TIBT] = "bo", [LI_MYMR] = "my", [LI_GEOR] = "ka", [LI_ETHI] = "am", [LI_KHMR] = "km",
    };
    if (best == LI_ARAB) {
        set_str(r.lang, arabic_lang(s, len, count[LI_ARAB]));
        r.score = dominance * evidence;
        return r;
    }
    if (best != LI_LATN && best != LI_CYRL) {
        set_str(r.lang, script_lang[best]);
        r.score = dominance * evidence;
        return r;
    }

    double sum[32] = {0};
    score_words(m, s, len, sum);
    int b1 = -1, b2 = -1;
    for (int l = 0; l < LI_NUM_LANGS; l++) {
        if ((best == LI_CYRL) != LANGS[l].cyrillic || sum[l] <= 0) continue;
        if (b1 < 0 || sum[l] > sum[b1]) b2 = b1, b1 = l;
        else if (b2 < 0 || sum[l] > sum[b2]) b2 = l;
    }
    if (b1 < 0) {
        if (best == LI_CYRL && m->ru >= 0) {  // Cyrillic letters but no word: still most likely Russian
            set_str(r.lang, "ru");
            r.score = dominance / LI_FULL_MARGIN;
        }
        return r;
    }
    double second = b2 >= 0 ? sum[b2] : 0;
    double margin = (sum[b1] - second) / LI_FULL_MARGIN;
    set_str(r.lang, LANGS[b1].code);
    if (b2 >= 0) set_str(r.runner_up, LANGS[b2].code);
    r.hits = sum[b1];
    r.score = dominance * (margin < 1 ? margin : 1);
    return r;
}
