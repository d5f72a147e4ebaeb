/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "cmdline.h"

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void cmdline_parse(struct cmdline *cl, const char *text)
{
    /* Only the first CMDLINE_MAX_CHARS - 1 characters count: then the words
     * (at most that many bytes with their terminators) and the keys split
     * off them (as many again) always fit in storage. */
    const char *p = text ? text : "";
    const char *end = p + strnlen(p, CMDLINE_MAX_CHARS - 1);
    size_t out = 0;
    cl->count = 0;
    cl->dropped = 0;
    for (;;) {
        while (p < end && is_blank(*p))
            p++;
        if (p == end)
            break;
        char *word = &cl->storage[out];
        char *key_end = NULL;
        bool quoted = false;
        for (; p < end && (quoted || !is_blank(*p)); p++) {
            if (*p == '"') {
                quoted = !quoted;
                continue;
            }
            if (*p == '=' && !key_end && !quoted)
                key_end = &cl->storage[out];
            cl->storage[out++] = *p;
        }
        cl->storage[out++] = '\0';
        if (cl->count >= CMDLINE_MAX_WORDS) {
            cl->dropped++;
            continue;
        }
        size_t i = cl->count++;
        cl->word[i] = word;
        cl->key[i] = word;
        cl->value[i] = "";
        if (key_end) {
            size_t key_len = (size_t)(key_end - word);
            char *key = &cl->storage[out];
            memcpy(key, word, key_len);
            key[key_len] = '\0';
            out += key_len + 1;
            cl->key[i] = key;
            cl->value[i] = key_end + 1;
        }
    }
}

const char *cmdline_get(const struct cmdline *cl, const char *key)
{
    for (size_t i = cl->count; i-- > 0;)
        if (strcmp(cl->key[i], key) == 0)
            return cl->value[i];
    return NULL;
}

bool cmdline_parse_u64(const char *text, uint64_t *out)
{
    if (!text || !*text)
        return false;
    unsigned base = 10;
    if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        base = 16;
        text += 2;
    }
    uint64_t v = 0;
    const char *p = text;
    for (; *p; p++) {
        unsigned digit;
        if (*p >= '0' && *p <= '9')
            digit = (unsigned)(*p - '0');
        else if (base == 16 && *p >= 'a' && *p <= 'f')
            digit = (unsigned)(*p - 'a' + 10);
        else if (base == 16 && *p >= 'A' && *p <= 'F')
            digit = (unsigned)(*p - 'A' + 10);
        else
            break;
        if (v > (UINT64_MAX - digit) / base)
            return false;
        v = v * base + digit;
    }
    if (p == text)
        return false;
    unsigned shift = 0;
    if (*p == 'k' || *p == 'K')
        shift = 10;
    else if (*p == 'M')
        shift = 20;
    else if (*p == 'G')
        shift = 30;
    if (shift)
        p++;
    if (*p)
        return false;
    if (shift && v > (UINT64_MAX >> shift))
        return false;
    *out = v << shift;
    return true;
}
